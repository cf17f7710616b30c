import Foundation
import SierraFormat
import Testing

@Suite("Golden vectors decode exactly")
struct GoldenVectorTests {
    // Prices are f32 in the file; the JSON holds them widened to double. Foundation's JSON parser on
    // Linux can be one double ULP off at e+37, which is why values are compared as the f32 they are.
    @Test("scid vectors", arguments: ["NQZ25-CME.scid", "NQZ25-CME.partial.scid"])
    func intradayVector(name: String) throws {
        for folder in Vectors.folders {
            let expected = try Vectors.json(folder, name + ".json")
            let decoded = try IntradayFormat.readFile(atPath: folder + "/" + name)
            let records = expected["records"] as! [[String: Any]]
            #expect(decoded.partialBytes == expected["partial_bytes"] as! Int)
            #expect(decoded.records.count == records.count)
            for (record, want) in zip(decoded.records, records) {
                #expect(record.dateTime.microseconds == (want["sc_us"] as! NSNumber).int64Value)
                #expect(record.dateTime.unixMicroseconds == (want["unix_us"] as! NSNumber).int64Value)
                #expect(record.open == (want["open"] as! NSNumber).floatValue)
                #expect(record.high == (want["high"] as! NSNumber).floatValue)
                #expect(record.low == (want["low"] as! NSNumber).floatValue)
                #expect(record.close == (want["close"] as! NSNumber).floatValue)
                #expect(record.numTrades == (want["num_trades"] as! NSNumber).uint32Value)
                #expect(record.totalVolume == (want["total_volume"] as! NSNumber).uint32Value)
                #expect(record.bidVolume == (want["bid_volume"] as! NSNumber).uint32Value)
                #expect(record.askVolume == (want["ask_volume"] as! NSNumber).uint32Value)
                #expect(record.kind.rawValue == want["kind"] as! String)
            }
        }
    }

    @Test("legacy double-days timestamp")
    func legacyDouble() throws {
        for folder in Vectors.folders {
            let name = "ESZ25-CME.legacy-double.scid"
            let expected = try Vectors.json(folder, name + ".json")
            let decoded = try IntradayFormat.readFile(atPath: folder + "/" + name)
            let record = try #require(decoded.records.first)
            #expect(decoded.records.count == 1)
            #expect(record.dateTime.unixMicroseconds == (expected["unix_us"] as! NSNumber).int64Value)
            #expect(Double(record.close) == (expected["close"] as! NSNumber).doubleValue)
            #expect(Double(record.ask) == (expected["ask"] as! NSNumber).doubleValue)
            #expect(Double(record.bid) == (expected["bid"] as! NSNumber).doubleValue)
            #expect(record.totalVolume == (expected["total_volume"] as! NSNumber).uint32Value)
            #expect(record.askVolume == (expected["ask_volume"] as! NSNumber).uint32Value)
            #expect(record.tradeSide == .ask)
        }
    }

    @Test("depth vector: records and the books published at end of batch")
    func depthVector() throws {
        for folder in Vectors.folders {
            let name = "NQZ25-CME.2025-12-01.depth"
            let expected = try Vectors.json(folder, name + ".json")
            let decoded = try DepthFormat.readFile(atPath: folder + "/" + name)
            let records = expected["records"] as! [[String: Any]]
            #expect(decoded.records.count == records.count)
            for (record, want) in zip(decoded.records, records) {
                #expect(record.dateTime.microseconds == (want["sc_us"] as! NSNumber).int64Value)
                #expect(Int(record.command.rawValue) == want["command"] as! Int)
                #expect(Int(record.flags) == want["flags"] as! Int)
                #expect(Int(record.numOrders) == want["num_orders"] as! Int)
                #expect(Double(record.price) == (want["price"] as! NSNumber).doubleValue)
                #expect(record.quantity == (want["quantity"] as! NSNumber).uint32Value)
            }

            var builder = DepthBookBuilder()
            let published = decoded.records.compactMap { builder.apply($0) }
            let books = expected["published_books"] as! [[String: Any]]
            #expect(published.count == books.count)
            for (book, want) in zip(published, books) {
                #expect(book.dateTime.microseconds == (want["sc_us"] as! NSNumber).int64Value)
                func levels(_ key: String) -> [[Double]] {
                    (want[key] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
                }
                #expect(book.bids.map { [Double($0.price), Double($0.quantity)] } == levels("bids"))
                #expect(book.asks.map { [Double($0.price), Double($0.quantity)] } == levels("asks"))
            }
            // The last record opens a batch that has not ended: the builder is mid-batch.
            #expect(builder.inBatch)
        }
    }

    /// The error decoding `path` threw, or nil if it decoded.
    private func refusal(_ path: String) -> SierraFormatError? {
        do {
            _ = try IntradayFormat.readFile(atPath: path)
            return nil
        } catch {
            return error as SierraFormatError
        }
    }

    @Test(
        "bad files are refused with an error naming the file and the fault",
        arguments: [
            ("bad-magic.scid", "bad magic", SierraFormatError.Reason.badMagic(expected: "SCID", actual: Array("SCIX".utf8))),
            ("bad-record-size.scid", "bad record size", .badRecordSize(expected: 40, actual: 44)),
            ("truncated-header.scid", "truncated header", .truncatedHeader(expected: 56, actual: 30)),
        ]
    )
    func badFiles(name: String, fault: String, reason: SierraFormatError.Reason) throws {
        for folder in Vectors.folders {
            let path = folder + "/" + name
            let error = try #require(refusal(path), "\(name) decoded without error")
            #expect(error.file == path)
            #expect(error.reason == reason)
            #expect(error.description.contains(name))
            #expect(error.description.contains(fault), "\(error.description)")
        }
    }
}
