#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "bulwark/common/fdpass.h"

namespace bulwark {
namespace {

using namespace std::chrono_literals;

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

ino_t inodeOf(int fd) {
  struct stat st{};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

TEST(FdPassTest, DescriptorsArriveAsDuplicatesOfTheSameFile) {
  Pair p;
  int pipeFds[2];
  ASSERT_EQ(::pipe(pipeFds), 0);
  UniqueFd r(pipeFds[0]), w(pipeFds[1]);
  const int fds[] = {r.get(), w.get()};
  ASSERT_TRUE(fdpass::send(p.a.get(), "hello", fds));
  auto m = fdpass::receive(p.b.get(), 1000ms);
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->data, "hello");
  ASSERT_EQ(m->fds.size(), 2u);
  EXPECT_NE(m->fds[0].get(), r.get());
  EXPECT_EQ(inodeOf(m->fds[0].get()), inodeOf(r.get()));
  EXPECT_EQ(::fcntl(m->fds[0].get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  // The passed write end works: bytes reach our read end.
  ASSERT_EQ(::write(m->fds[1].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(FdPassTest, TimeoutClosedPeerAndBadInput) {
  Pair p;
  auto t = fdpass::receive(p.b.get(), 10ms);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code().value(), ETIMEDOUT);
  EXPECT_FALSE(fdpass::send(p.a.get(), ""));
  std::vector<int> many(fdpass::kMaxFds + 1, 0);
  EXPECT_FALSE(fdpass::send(p.a.get(), "x", many));
  p.a.reset();
  auto c = fdpass::receive(p.b.get(), 100ms);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code().value(), ECONNRESET);
}

TEST(FdPassTest, ListenConnectCallAndStaleSocketReplaced) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("bw-fdpass-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "s.sock").string();
  {
    auto l1 = fdpass::listenUnix(path, 0600);
    ASSERT_TRUE(l1) << l1.error().describe();
  }
  auto l = fdpass::listenUnix(path, 0666); // the stale file of l1 is replaced
  ASSERT_TRUE(l) << l.error().describe();
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  auto c = fdpass::connectUnix(path);
  ASSERT_TRUE(c) << c.error().describe();
  UniqueFd s(::accept4(l->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(s);
  ASSERT_TRUE(fdpass::send(s.get(), "pong"));
  auto m = fdpass::call(c->get(), "ping", {}, 1000ms);
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->data, "pong");
  auto got = fdpass::receive(s.get(), 1000ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "ping");
  // A regular file is never replaced.
  const std::string file = (dir / "plain").string();
  { UniqueFd f(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
  EXPECT_FALSE(fdpass::listenUnix(file, 0600));
  EXPECT_FALSE(fdpass::connectUnix(std::string(200, 'x')));
  std::filesystem::remove_all(dir);
}

} // namespace
} // namespace bulwark
