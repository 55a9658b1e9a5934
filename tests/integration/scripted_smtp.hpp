// A scripted SMTP server on a loopback socket for the SMTP tests
// (smtp_client_test.cpp, delivery_smtp_test.cpp): one thread per connection.
#pragma once

#include <arpa/inet.h>
#include <atomic>
#include <mutex>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace candle::test {

// One line-oriented SMTP server: RCPT TO is answered by the recipient's
// local part (unknown: 550 5.1.1, reject: 550 5.7.1, later: 451, drop: the
// connection is closed, else 250), MAIL FROM refused@ gets 553; messages are
// kept whole.
struct scripted_smtp {
  int listener = -1;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::thread acceptor;
  std::mutex mtx;
  std::vector<std::thread> sessions;
  std::vector<int> fds;
  std::atomic<int> connections{0};
  std::atomic<int> mail_commands{0};
  std::atomic<int> incomplete{0}; // DATA started, connection gone before "."
  std::vector<std::string> messages;

  scripted_smtp() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener, 64);
    socklen_t len = sizeof a;
    getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    acceptor = std::thread{[this] {
      while (!stopping) {
        int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) break;
        ++connections;
        std::lock_guard<std::mutex> g{mtx};
        fds.push_back(fd);
        sessions.emplace_back([this, fd] { serve(fd); });
      }
    }};
  }

  ~scripted_smtp() {
    stopping = true;
    ::shutdown(listener, SHUT_RDWR);
    ::close(listener);
    acceptor.join();
    {
      std::lock_guard<std::mutex> g{mtx};
      for (int fd : fds)
        ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : sessions)
      t.join();
  }

  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port); }

  static bool put(int fd, const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }

  void serve(int fd) {
    std::string buf;
    auto line = [&](std::string& out) {
      for (;;) {
        auto p = buf.find("\r\n");
        if (p != std::string::npos) {
          out = buf.substr(0, p);
          buf.erase(0, p + 2);
          return true;
        }
        char tmp[4096];
        auto n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf.append(tmp, static_cast<size_t>(n));
      }
    };
    put(fd, "220 test ESMTP\r\n");
    std::string l;
    while (line(l)) {
      auto verb = l.substr(0, 4);
      if (verb == "EHLO" || verb == "HELO") {
        put(fd, "250-test\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
      } else if (verb == "MAIL") {
        ++mail_commands;
        if (l.find("<refused@") != std::string::npos)
          put(fd, "553 5.7.1 Sender address rejected: not owned by user\r\n");
        else
          put(fd, "250 2.1.0 Ok\r\n");
      } else if (verb == "RCPT") {
        auto local = l.substr(l.find('<') + 1);
        local = local.substr(0, local.find('@'));
        if (local == "unknown")
          put(fd, "550 5.1.1 <unknown@example.org>: Recipient address rejected: User unknown\r\n");
        else if (local == "reject")
          put(fd, "550 5.7.1 Refused by policy\r\n");
        else if (local == "later")
          put(fd, "451 4.3.0 Try again later\r\n");
        else if (local == "drop")
          break;
        else
          put(fd, "250 2.1.5 Ok\r\n");
      } else if (verb == "DATA") {
        put(fd, "354 End data with <CR><LF>.<CR><LF>\r\n");
        std::string msg;
        bool whole = false;
        while (line(l)) {
          if (l == ".") {
            whole = true;
            break;
          }
          msg += l + "\r\n";
        }
        if (!whole) {
          ++incomplete;
          break;
        }
        {
          std::lock_guard<std::mutex> g{mtx};
          messages.push_back(msg);
        }
        put(fd, "250 2.0.0 Ok: queued\r\n");
      } else if (verb == "QUIT") {
        put(fd, "221 2.0.0 Bye\r\n");
        break;
      } else {
        put(fd, "250 2.0.0 Ok\r\n"); // RSET, NOOP
      }
    }
    ::close(fd);
  }
};

} // namespace candle::test
