// Tests for lib/alerts/signature: base64 both ways, secrets as secret files
// hold them, and the Standard Webhooks signature against the spec's own
// published test vector.
#include "lib/alerts/signature.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

using caad::alerts::base64_decode;
using caad::alerts::base64_encode;
using caad::alerts::parse_secret;
using caad::alerts::read_secret_file;
using caad::alerts::sha256_hex;
using caad::alerts::sign;

TEST_CASE("the Standard Webhooks test vector") {
  // From the specification's reference implementations (standard-webhooks,
  // libraries/*/ tests): this id, timestamp, body and secret sign to this value.
  auto key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  REQUIRE(key.has_value());
  CHECK(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // One byte more anywhere changes it.
  CHECK(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})") !=
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("base64 round trips and known values (RFC 4648 §10)") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(base64_encode(plain) == encoded);
    auto back = base64_decode(encoded);
    REQUIRE(back.has_value());
    CHECK(*back == plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  auto back = base64_decode(base64_encode(all));
  REQUIRE(back.has_value());
  CHECK(*back == all);
  // Padding may be left out.
  CHECK(base64_decode("Zm8").value() == "fo");
}

TEST_CASE("base64 refuses what an encoder would not write") {
  for (const char* bad : {"Zm9v!", "Z", "Zm9vY", "Zg=", "Zh==", "Zm8==", "Z===", "Zm 9v", "Zm9v\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64_decode(bad).has_value());
  }
}

TEST_CASE("secrets: whsec_ is decoded, other text is used as it is, whitespace around is ignored") {
  CHECK(parse_secret("whsec_Zm9vYmFy\n").value() == "foobar");
  CHECK(parse_secret("  plain secret text \r\n").value() == "plain secret text");
  CHECK_FALSE(parse_secret("").has_value());
  CHECK_FALSE(parse_secret(" \n").has_value());
  CHECK_FALSE(parse_secret("whsec_").has_value());
  auto bad = parse_secret("whsec_not base64!");
  REQUIRE_FALSE(bad.has_value());
  // The message never repeats the secret.
  CHECK(bad.error().message.find("not base64!") == std::string::npos);
}

TEST_CASE("secret files: read, trimmed, and errors name the file but not the content") {
  std::string pattern = (std::filesystem::temp_directory_path() / "caad-secret-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  const std::filesystem::path dir = pattern;
  const std::string good = (dir / "good").string();
  const std::string bad = (dir / "bad").string();
  std::ofstream(good) << "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
  std::ofstream(bad) << "whsec_%%%%SECRETVALUE\n";
  auto key = read_secret_file(good);
  REQUIRE(key.has_value());
  CHECK(key->size() == 24);
  auto wrong = read_secret_file(bad);
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().message.find(bad) != std::string::npos);
  CHECK(wrong.error().message.find("SECRETVALUE") == std::string::npos);
  auto missing = read_secret_file((dir / "missing").string());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("No such file") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("sha256_hex") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
