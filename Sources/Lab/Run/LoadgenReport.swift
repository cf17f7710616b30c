import Swarm

/// loadgen's `summary.json` as the runner reads it: the swarm's own type (one schema, not a copy).
public typealias LoadgenReport = LoadgenSummary
