// lwsp_http_server — a tiny HTTP/1.0 server on lwsp (Winsock SPI only).
// One connection at a time: it reads the request head, answers
//   GET /          a short text page
//   GET /bytes/N   N bytes (N <= 1 GiB) of the pattern "abc...zabc..."
//   anything else  404 (405 for a method other than GET or HEAD)
// with "Connection: close", then closes gracefully: WSPShutdown(SD_SEND)
// sends the FIN, WSPRecv drains until the client's FIN, WSPCloseSocket.
// One line per request goes to stdout.  --count N exits after N
// connections (default: forever).
//
// Usage: lwsp_http_server [--port 8080] [--v6] [--count N] [--tap NAME]
//
// Run it (as root, from the repository root; scripts/netns-run makes a
// private network namespace holding TAP device lwsp0, kernel side
// 192.0.2.2, and deletes it afterwards):
//   scripts/netns-run -- bash -c 'build/release/examples/lwsp_http_server --count 3 & sleep 1;
//       curl -s http://192.0.2.1:8080/; curl -s http://192.0.2.1:8080/bytes/100000 | wc -c;
//       curl -s -o /dev/null -w "%{http_code}\n" http://192.0.2.1:8080/nope; wait'
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "bringup.hpp"

namespace {

const int k_timeout_ms = 10000;       // a client silent for 10 s is dropped
const std::size_t k_max_head = 8192;  // request heads beyond this get 400
const unsigned long long k_max_bytes = 1ull << 30;

const char k_page[] =
    "Hello from lwsp!\n"
    "This page was served by lwIP in user space, through the Windows CE\n"
    "Winsock Service Provider Interface (WSPAccept, WSPRecv, WSPSend).\n"
    "Try /bytes/N for N bytes of a pattern.\n";

bool send_all(const WSPPROC_TABLE& wsp, SOCKET s, const char* data, std::size_t size) {
    int err = 0;
    return examples::send_all(wsp, s, data, size, err);
}

// Receives until the blank line that ends the request head.  Returns false
// on EOF, error or an oversized head before it.
bool read_head(const WSPPROC_TABLE& wsp, SOCKET s, std::string& head) {
    while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
        if (head.size() > k_max_head) return false;
        char buf[2048];
        WSABUF b{sizeof buf, buf};
        DWORD got = 0, flags = 0;
        int err = 0;
        if (wsp.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR || got == 0)
            return false;
        head.append(buf, got);
    }
    return true;
}

std::string response_head(int status, const char* reason, unsigned long long length) {
    return "HTTP/1.0 " + std::to_string(status) + " " + reason +
           "\r\nServer: lwsp_http_server\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(length) +
           "\r\nConnection: close\r\n\r\n";
}

// Sends a whole response whose body is `text`.
int reply(const WSPPROC_TABLE& wsp, SOCKET c, int status, const char* reason, const std::string& text, bool head_only,
          unsigned long long& length) {
    length = text.size();
    const std::string r = response_head(status, reason, length) + (head_only ? "" : text);
    send_all(wsp, c, r.data(), r.size());
    return status;
}

// Answers one request; returns the status and the body length for the log.
int serve(const WSPPROC_TABLE& wsp, SOCKET c, std::string& request_line, unsigned long long& length) {
    std::string head;
    const bool complete = read_head(wsp, c, head);
    request_line = head.substr(0, head.find_first_of("\r\n"));
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = sp1 == std::string::npos ? sp1 : request_line.find(' ', sp1 + 1);
    if (!complete || sp2 == std::string::npos) return reply(wsp, c, 400, "Bad Request", "bad request\n", false, length);
    const std::string method = request_line.substr(0, sp1), path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    const bool head_only = method == "HEAD";
    if (method != "GET" && !head_only)
        return reply(wsp, c, 405, "Method Not Allowed", "only GET and HEAD\n", false, length);
    if (path == "/") return reply(wsp, c, 200, "OK", k_page, head_only, length);

    // /bytes/N: the header, then the pattern in chunks that start at a
    // multiple of 26 bytes.
    const std::string prefix = "/bytes/";
    const std::string digits = path.compare(0, prefix.size(), prefix) == 0 ? path.substr(prefix.size()) : "";
    if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoull(digits) > k_max_bytes)
        return reply(wsp, c, 404, "Not Found", "not found: " + path + "\n", head_only, length);
    length = std::stoull(digits);
    const std::string h = response_head(200, "OK", length);
    if (!send_all(wsp, c, h.data(), h.size()) || head_only) return 200;
    static std::vector<char> chunk;
    if (chunk.empty())
        for (int i = 0; i < 26 * 2520; ++i) chunk.push_back(static_cast<char>('a' + i % 26));
    for (unsigned long long left = length; left > 0;) {
        const std::size_t part = left < chunk.size() ? static_cast<std::size_t>(left) : chunk.size();
        if (!send_all(wsp, c, chunk.data(), part)) break;
        left -= part;
    }
    return 200;
}

int usage() {
    std::fprintf(stderr, "usage: lwsp_http_server [--port 8080] [--v6] [--count N] [--tap NAME]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string tap = examples::take_tap_option(argc, argv);
        examples::server_options opts{8080};
        if (!examples::parse_server_options(argc, argv, opts)) return usage();
        const long port = opts.port, count = opts.count;
        const bool v6 = opts.v6;

        examples::network net(tap);
        const WSPPROC_TABLE& wsp = net.wsp();
        int err = 0;
        std::string local;
        const SOCKET listener = examples::listen_on(wsp, v6, port, 16, local);
        if (listener == INVALID_SOCKET) return 1;
        std::printf("lwsp_http_server: listening on http://%s:%ld/ (TAP %s)\n", v6 ? "[2001:db8::1]" : examples::k_ipv4,
                    port, net.tap_name().c_str());
        std::fflush(stdout);

        for (long served = 0; count < 0 || served < count; ++served) {
            SOCKADDR_STORAGE peer{};
            int peer_len = sizeof peer;
            SOCKET c = wsp.lpWSPAccept(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len, nullptr, 0, &err);
            if (c == INVALID_SOCKET) {
                std::fprintf(stderr, "WSPAccept: %s\n", examples::wsa_error(err).c_str());
                return 1;
            }
            wsp.lpWSPSetSockOpt(c, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&k_timeout_ms),
                                sizeof k_timeout_ms, &err);
            std::string request_line;
            unsigned long long length = 0;
            const int status = serve(wsp, c, request_line, length);

            // Graceful close: our FIN after the response, then read until the
            // client's FIN, so that no unread byte turns the close into a reset.
            wsp.lpWSPShutdown(c, SD_SEND, &err);
            for (;;) {
                char buf[1024];
                WSABUF b{sizeof buf, buf};
                DWORD got = 0, flags = 0;
                if (wsp.lpWSPRecv(c, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR || got == 0)
                    break;
            }
            wsp.lpWSPCloseSocket(c, &err);
            std::printf("%s \"%s\" %d %llu\n", examples::address_text(wsp, peer, peer_len).c_str(),
                        request_line.c_str(), status, length);
            std::fflush(stdout);
        }
        wsp.lpWSPCloseSocket(listener, &err);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lwsp_http_server: %s\n", e.what());
        return 1;
    }
}
