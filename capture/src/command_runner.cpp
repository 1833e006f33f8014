#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bulwark/capture/ops.h"

extern char** environ;

namespace bulwark::capture {
namespace {

class Fd {
public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

private:
  int fd_;
};

Status makePipe(Fd& r, Fd& w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return BW_ERR(errnoCode(errno), "pipe");
  }
  r.reset(p[0]);
  w.reset(p[1]);
  return {};
}

class RealCommandRunner : public CommandRunner {
public:
  explicit RealCommandRunner(int timeoutMs) : timeoutMs_(timeoutMs) {}

  bool concurrent() const override { return true; }

  bool available(std::string_view program) override {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    while (!dirs.empty()) {
      auto colon = dirs.find(':');
      std::string dir(dirs.substr(0, colon));
      dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
      std::string full = (dir.empty() ? "." : dir) + "/" + std::string(program);
      if (::access(full.c_str(), X_OK) == 0) {
        return true;
      }
    }
    return false;
  }

  Result<CommandResult> run(const std::vector<std::string>& argv,
                            std::string_view input) override {
    if (argv.empty()) {
      return BW_INVALID("empty command");
    }
    Fd inR, inW, outR, outW, errR, errW;
    for (auto [r, w] : {std::pair{&inR, &inW}, std::pair{&outR, &outW}, std::pair{&errR, &errW}}) {
      if (auto st = makePipe(*r, *w); !st) {
        return tl::unexpected(st.error());
      }
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, inR.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, outW.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, errW.get(), 2);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      return BW_ERR(errnoCode(rc), "cannot run " + argv[0]);
    }
    inR.reset();
    outW.reset();
    errW.reset();
    if (input.empty()) {
      inW.reset();
    } else {
      ::fcntl(inW.get(), F_SETFL, O_NONBLOCK);
    }

    CommandResult res;
    size_t written = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs_);
    bool timedOut = false;
    while (outR.get() >= 0 || errR.get() >= 0) {
      pollfd fds[3];
      nfds_t n = 0;
      for (Fd* f : {&outR, &errR}) {
        if (f->get() >= 0) {
          fds[n++] = {f->get(), POLLIN, 0};
        }
      }
      if (inW.get() >= 0) {
        fds[n++] = {inW.get(), POLLOUT, 0};
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timedOut = true;
        break;
      }
      if (::poll(fds, n, static_cast<int>(left.count())) < 0 && errno != EINTR) {
        break;
      }
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        if (fds[i].fd == inW.get()) {
          ssize_t w = ::write(inW.get(), input.data() + written, input.size() - written);
          if (w > 0) {
            written += static_cast<size_t>(w);
          }
          if (w < 0 && errno != EAGAIN && errno != EINTR) {
            inW.reset(); // EPIPE: the program exited early; its status tells why
          } else if (written == input.size()) {
            inW.reset();
          }
          continue;
        }
        char buf[16384];
        ssize_t r = ::read(fds[i].fd, buf, sizeof(buf));
        Fd& src = fds[i].fd == outR.get() ? outR : errR;
        if (r <= 0) {
          if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
          }
          src.reset();
        } else {
          (&src == &outR ? res.out : res.err).append(buf, static_cast<size_t>(r));
        }
      }
    }
    inW.reset();
    if (timedOut) {
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timedOut) {
      return BW_ERR(std::make_error_code(std::errc::timed_out),
                    argv[0] + " did not finish within " + std::to_string(timeoutMs_) + " ms");
    }
    res.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (res.exitCode == 127 && res.out.empty() && res.err.empty()) {
      return BW_ERR(errnoCode(ENOENT), "cannot run " + argv[0]);
    }
    return res;
  }

private:
  int timeoutMs_;
};

} // namespace

CommandRunnerPtr makeCommandRunner(int timeoutMs) {
  return std::make_unique<RealCommandRunner>(timeoutMs);
}

} // namespace bulwark::capture
