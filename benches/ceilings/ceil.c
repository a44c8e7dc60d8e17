/* Machine ceilings for docs/performance.md: memcpy bandwidth, CRC32C (SSE4.2 instruction, three
 * interleaved streams like the crc32c crate) and loopback TCP bandwidth between two pinned
 * processes. Built and run by benches/ceilings.sh; prints "name value unit" lines. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nmmintrin.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof s, &s);
}

/* Best of 5 copies of `len` bytes between two buffers that do not fit in cache. */
static double memcpy_gbs(size_t len) {
    char *a = malloc(len), *b = malloc(len);
    if (!a || !b) return 0;
    memset(a, 1, len);
    memset(b, 2, len);
    double best = 0;
    for (int i = 0; i < 5; i++) {
        double t = now();
        memcpy(b, a, len);
        double gbs = len / (now() - t) / 1e9;
        if (gbs > best) best = gbs;
        a[i] = b[len - 1 - i]; /* keep the copy observable */
    }
    free(a);
    free(b);
    return best;
}

/* CRC32C over `len` bytes as three interleaved streams (combining omitted: the streams are what
 * costs time), best of 5. */
static double crc32c_gbs(size_t len, uint64_t *sink) {
    unsigned char *p = malloc(len);
    if (!p) return 0;
    memset(p, 3, len);
    double best = 0;
    size_t third = len / 3 / 8 * 8;
    for (int r = 0; r < 5; r++) {
        uint64_t c0 = ~0u, c1 = ~0u, c2 = ~0u;
        double t = now();
        for (size_t i = 0; i < third; i += 8) {
            uint64_t x0, x1, x2;
            memcpy(&x0, p + i, 8);
            memcpy(&x1, p + third + i, 8);
            memcpy(&x2, p + 2 * third + i, 8);
            c0 = _mm_crc32_u64(c0, x0);
            c1 = _mm_crc32_u64(c1, x1);
            c2 = _mm_crc32_u64(c2, x2);
        }
        double gbs = 3.0 * third / (now() - t) / 1e9;
        if (gbs > best) best = gbs;
        *sink ^= c0 ^ c1 ^ c2;
    }
    free(p);
    return best;
}

/* Sends `total` bytes over a loopback TCP connection in `chunk`-byte writes, sender pinned to
 * CPU 0 and receiver to CPU 1 (when there are two). Returns receiver-side GB/s. */
static double tcp_gbs(size_t total, size_t chunk) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (void *)&a, sizeof a) || listen(ls, 1) ||
        getsockname(ls, (void *)&a, &al))
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        pin(0);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (void *)&a, sizeof a)) _exit(1);
        char *buf = malloc(chunk);
        memset(buf, 7, chunk);
        size_t sent = 0;
        while (sent < total) {
            ssize_t n = write(s, buf, chunk);
            if (n <= 0) _exit(1);
            sent += n;
        }
        close(s);
        _exit(0);
    }
    pin(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0);
    int c = accept(ls, 0, 0);
    char *buf = malloc(chunk);
    size_t got = 0;
    double t = now();
    for (;;) {
        ssize_t n = read(c, buf, chunk);
        if (n <= 0) break;
        got += n;
    }
    double gbs = got / (now() - t) / 1e9;
    waitpid(pid, 0, 0);
    close(c);
    close(ls);
    return got == total ? gbs : 0;
}

int main(void) {
    uint64_t sink = 0;
    printf("memcpy_256MiB %.2f GB/s\n", memcpy_gbs(256u << 20));
    printf("memcpy_1MiB %.2f GB/s\n", memcpy_gbs(1u << 20));
    printf("crc32c_3way_64MiB %.2f GB/s\n", crc32c_gbs(64u << 20, &sink));
    printf("tcp_loopback_1MiB_writes %.2f GB/s\n", tcp_gbs(8ull << 30, 1u << 20));
    printf("tcp_loopback_64KiB_writes %.2f GB/s\n", tcp_gbs(4ull << 30, 64u << 10));
    return (int)(sink == 42);
}
