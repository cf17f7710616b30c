// The Linux calls the floor bridge makes that Glibc's Swift module does not carry.
#ifndef C_FLOOR_SHIMS_H
#define C_FLOOR_SHIMS_H
#include <sys/epoll.h>
#endif
