/* The board layer (firmware_templates/common/board.h) for a Linux host: the "UART" is
 * one TCP connection on 127.0.0.1, so the host harness reaches it with a pyserial
 * socket:// URL exactly as it reaches QEMU. Prints "PORT <n>" on stdout once listening;
 * the port comes from $TINYRNN_HOST_PORT (default 0 = any). A closed connection is
 * replaced by the next one, so tests may reconnect. Tests only. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "board.h"

static int g_listen = -1, g_conn = -1;
static uint8_t g_tx[4096], g_rx[4096];
static size_t g_tx_n, g_rx_n, g_rx_pos;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void accept_one(void)
{
    int one = 1;
    g_conn = accept(g_listen, NULL, NULL);
    if (g_conn < 0)
        die("accept");
    /* Frames are flushed whole; Nagle would only add latency. */
    setsockopt(g_conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    g_rx_n = g_rx_pos = 0;
}

void board_init(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    int one = 1;
    const char *port = getenv("TINYRNN_HOST_PORT");
    g_listen = socket(AF_INET, SOCK_STREAM, 0);
    if (g_listen < 0)
        die("socket");
    setsockopt(g_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)(port ? atoi(port) : 0));
    if (bind(g_listen, (struct sockaddr *)&a, sizeof a) < 0 || listen(g_listen, 1) < 0)
        die("bind/listen");
    if (getsockname(g_listen, (struct sockaddr *)&a, &len) < 0)
        die("getsockname");
    printf("PORT %u\n", (unsigned)ntohs(a.sin_port));
    fflush(stdout);
    accept_one();
}

static void flush_tx(void)
{
    size_t off = 0;
    while (off < g_tx_n && g_conn >= 0) {
        ssize_t k = send(g_conn, g_tx + off, g_tx_n - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* peer gone: the reply is lost, like bytes on an unplugged UART */
        off += (size_t)k;
    }
    g_tx_n = 0;
}

void board_putc(uint8_t c)
{
    if (g_tx_n == sizeof g_tx)
        flush_tx();
    g_tx[g_tx_n++] = c;
}

int board_getc(uint32_t timeout_ticks)
{
    flush_tx(); /* about to wait: everything said so far must be on the wire */
    while (g_rx_pos == g_rx_n) {
        struct pollfd p = {g_conn, POLLIN, 0};
        int ms = timeout_ticks == BOARD_WAIT_FOREVER ? -1 : (int)((timeout_ticks + 999u) / 1000u);
        int r = poll(&p, 1, ms);
        ssize_t k;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("poll");
        if (r == 0)
            return -1;
        k = recv(g_conn, g_rx, sizeof g_rx, 0);
        if (k <= 0) {
            close(g_conn);
            accept_one();
            return -1; /* a new peer: whatever was half-received is stale */
        }
        g_rx_n = (size_t)k;
        g_rx_pos = 0;
    }
    return g_rx[g_rx_pos++];
}

uint64_t board_ticks64(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint32_t board_ticks(void)
{
    return (uint32_t)board_ticks64();
}

uint32_t board_cycles(void)
{
    struct timespec ts; /* the host's "core clock": nanoseconds, wrapping as CYCCNT does */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

uint32_t board_stack_peak_bytes(void)
{
    return 0xFFFFFFFFu; /* host stacks are not painted: "unknown" */
}

uint32_t board_stack_size_bytes(void)
{
    return 0;
}
