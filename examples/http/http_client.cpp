// lwsp_http_client — fetches one URL over HTTP/1.0 through lwsp (Winsock SPI
// only): connects, sends GET, reads until the server closes.  The status
// line, the headers and the body length go to stderr, the body to stdout.
// Exit code 0 only for status 200 (with a body as long as Content-Length
// says, if the server sent one).
//
// Usage: lwsp_http_client http://HOST[:PORT]/PATH [--tap NAME]
//   HOST is an IPv4 address or an IPv6 address in brackets (no names: lwsp
//   has no resolver); PORT defaults to 80.
//
// Run it (as root, from the repository root; scripts/netns-run makes a
// private network namespace holding TAP device lwsp0, kernel side
// 192.0.2.2 / 2001:db8::2, and deletes it afterwards):
//   scripts/netns-run -- bash -c 'socat TCP-LISTEN:8000,reuseaddr,fork
//       SYSTEM:"echo HTTP/1.0 200 OK; echo; echo hello" & trap "kill $!" EXIT; sleep 0.5;
//       build/release/examples/lwsp_http_client http://192.0.2.2:8000/'
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "bringup.hpp"

namespace {

const int k_timeout_ms = 10000;  // give up on a silent server after 10 s

int usage() {
    std::fprintf(stderr,
                 "usage: lwsp_http_client http://HOST[:PORT]/PATH [--tap NAME]\n"
                 "  HOST: an IPv4 address, or an IPv6 address in brackets\n");
    return 2;
}

// "http://[2001:db8::2]:8000/x" -> authority "[2001:db8::2]:8000", path "/x".
bool split_url(const std::string& url, std::string& authority, std::string& path) {
    const std::string scheme = "http://";
    if (url.compare(0, scheme.size(), scheme) != 0) return false;
    const std::size_t slash = url.find('/', scheme.size());
    authority = url.substr(scheme.size(), slash - scheme.size());
    path = slash == std::string::npos ? "/" : url.substr(slash);
    return !authority.empty();
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string tap = examples::take_tap_option(argc, argv);
        std::string authority, path;
        if (argc != 2 || !split_url(argv[1], authority, path)) return usage();

        // WSPStringToAddress parses "a.b.c.d:port" and "[v6]:port" itself;
        // add the default port when the URL has none.
        const bool v6 = authority.front() == '[';
        const bool has_port = v6 ? authority.find("]:") != std::string::npos : authority.find(':') != std::string::npos;
        const std::string address = has_port ? authority : authority + ":80";

        examples::network net(tap);
        const WSPPROC_TABLE& wsp = net.wsp();
        int err = 0;

        const int af = v6 ? AF_INET6 : AF_INET;
        SOCKADDR_STORAGE to{};
        int to_len = 0;
        if (!examples::to_sockaddr(wsp, address, af, to, to_len)) {
            std::fprintf(stderr, "lwsp_http_client: %s is not IPv4:port or [IPv6]:port\n", address.c_str());
            return 2;
        }

        SOCKET s = wsp.lpWSPSocket(af, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
        if (s == INVALID_SOCKET) {
            std::fprintf(stderr, "WSPSocket: %s\n", examples::wsa_error(err).c_str());
            return 1;
        }
        wsp.lpWSPSetSockOpt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&k_timeout_ms),
                            sizeof k_timeout_ms, &err);
        if (wsp.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&to), to_len, nullptr, nullptr, nullptr, nullptr, &err) ==
            SOCKET_ERROR) {
            std::fprintf(stderr, "WSPConnect %s: %s\n", address.c_str(), examples::wsa_error(err).c_str());
            wsp.lpWSPCloseSocket(s, &err);
            return 1;
        }

        // The request, whole (a blocking WSPSend may take part of it: loop).
        const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + authority +
                                    "\r\nUser-Agent: lwsp_http_client\r\nAccept: */*\r\nConnection: close\r\n\r\n";
        for (std::size_t off = 0; off < request.size();) {
            WSABUF b{static_cast<u_long>(request.size() - off), const_cast<char*>(request.data() + off)};
            DWORD sent = 0;
            if (wsp.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR) {
                std::fprintf(stderr, "WSPSend: %s\n", examples::wsa_error(err).c_str());
                wsp.lpWSPCloseSocket(s, &err);
                return 1;
            }
            off += sent;
        }

        // HTTP/1.0 with Connection: close — the response ends with the
        // server's FIN (WSPRecv returns 0 bytes).
        std::string response;
        for (;;) {
            char buf[65536];
            WSABUF b{sizeof buf, buf};
            DWORD got = 0, flags = 0;
            if (wsp.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR) {
                std::fprintf(stderr, "WSPRecv: %s after %zu bytes\n", examples::wsa_error(err).c_str(),
                             response.size());
                wsp.lpWSPCloseSocket(s, &err);
                return 1;
            }
            if (got == 0) break;
            response.append(buf, got);
        }
        wsp.lpWSPCloseSocket(s, &err);  // everything read: a graceful close

        std::size_t head_end = response.find("\r\n\r\n");
        std::size_t body_at = head_end + 4;
        if (head_end == std::string::npos) {
            head_end = response.find("\n\n");
            body_at = head_end + 2;
        }
        if (head_end == std::string::npos || response.compare(0, 5, "HTTP/") != 0) {
            std::fprintf(stderr, "lwsp_http_client: not an HTTP response (%zu bytes)\n", response.size());
            return 1;
        }
        const std::string head = response.substr(0, head_end);
        const std::size_t body_size = response.size() - body_at;
        std::fprintf(stderr, "%s\n", head.c_str());
        std::fprintf(stderr, "(body: %zu bytes)\n", body_size);
        std::fwrite(response.data() + body_at, 1, body_size, stdout);
        std::fflush(stdout);

        // "HTTP/1.0 200 OK": the status is the number after the first space.
        const int status = std::atoi(head.c_str() + head.find(' ') + 1);
        long long declared = -1;
        for (std::size_t at = head.find('\n'); at != std::string::npos; at = head.find('\n', at + 1)) {
            const std::string name = "content-length:";
            std::string line = head.substr(at + 1, name.size());
            for (char& ch : line) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
            if (line == name) declared = std::atoll(head.c_str() + at + 1 + name.size());
        }
        if (declared >= 0 && static_cast<unsigned long long>(declared) != body_size) {
            std::fprintf(stderr, "lwsp_http_client: Content-Length %lld but %zu body bytes\n", declared, body_size);
            return 1;
        }
        return status == 200 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lwsp_http_client: %s\n", e.what());
        return 1;
    }
}
