// Tests for daemon/cli/evaluate: `caad evaluate` reading record files, its
// JSON and human output, and its exit statuses.
#include "daemon/cli/evaluate.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "daemon/cli/exit_codes.h"

using namespace caad::cli;

namespace {

// A records file in a fresh temporary directory, removed with the object.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    std::string pattern = (std::filesystem::temp_directory_path() / "caad-evaluate-XXXXXX").string();
    char* dir = mkdtemp(pattern.data());
    REQUIRE(dir != nullptr);
    m_dir = dir;
    m_path = m_dir / "records.caa";
    std::ofstream(m_path) << contents;
  }
  ~TempFile() { std::filesystem::remove_all(m_dir); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return m_path.string(); }

 private:
  std::filesystem::path m_dir;
  std::filesystem::path m_path;
};

struct Run {
  int status;
  std::string out;
  std::string err;
};

Run run(EvaluateOptions o, const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  int status = run_evaluate(o, in, out, err);
  return {status, out.str(), err.str()};
}

EvaluateOptions options(const std::string& file) {
  EvaluateOptions o;
  o.ca = "letsencrypt.org";
  o.records_file = file;
  o.json = true;
  return o;
}

}  // namespace

TEST_CASE("JSON output carries verdict, reason and the deciding record") {
  TempFile f("; the customer's parent zone\n0 issue \"digicert.com\"\n\n0 iodef \"mailto:sec@example.com\"\n");
  Run r = run(options(f.path()));
  CHECK(r.status == k_exit_denied);
  CHECK(r.err.empty());
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["verdict"] == "denied");
  CHECK(j["outcome"] == "not_authorized");
  CHECK(j["deciding_record"]["index"] == 0);
  CHECK(j["deciding_record"]["record"] == "0 issue \"digicert.com\"");
  CHECK(j["records"].size() == 2);
  CHECK(j["records"][1]["role"] == "not_applicable");
  CHECK(j["reason"].get<std::string>().find("allow only digicert.com") != std::string::npos);
  CHECK(j["ca"] == "letsencrypt.org");
  CHECK(j["wildcard"] == false);
  CHECK(j["behaviour"] == "strictest");
}

TEST_CASE("RFC 3597 lines, stdin, profiles and wildcard domains") {
  // 0 issue "letsencrypt.org" in the generic form.
  std::string generic = "\\# 22 00 05 6973737565 6c657473656e63727970742e6f7267\n";
  EvaluateOptions o = options("-");
  Run r = run(o, generic);
  CHECK(r.status == k_exit_permitted);
  CHECK(nlohmann::json::parse(r.out)["verdict"] == "permitted");

  // Letter case in the issuer: RFC reading permits, Let's Encrypt refuses.
  o.profile = "rfc8659";
  r = run(o, "0 issue \"LetsEncrypt.ORG\"\n");
  CHECK(r.status == k_exit_permitted);
  CHECK_FALSE(nlohmann::json::parse(r.out)["divergence"].is_null());
  o.profile = "letsencrypt";
  r = run(o, "0 issue \"LetsEncrypt.ORG\"\n");
  CHECK(r.status == k_exit_denied);

  // "*.x" as --domain implies the wildcard rules.
  o.profile = "strictest";
  o.domain = "*.shop.example";
  r = run(o, "0 issuewild \";\"\n0 issue \"letsencrypt.org\"\n");
  CHECK(r.status == k_exit_denied);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["wildcard"] == true);
  CHECK(j["reason"].get<std::string>().find("*.shop.example") != std::string::npos);
}

TEST_CASE("human output marks the deciding record") {
  TempFile f("0 issue \"letsencrypt.org\"\n0 issue \"digicert.com\"\n");
  EvaluateOptions o = options(f.path());
  o.json = false;
  o.domain = "shop.example";
  o.owner = "example";
  Run r = run(o);
  CHECK(r.status == k_exit_permitted);
  CHECK(r.out.find("verdict: permitted (strictest reading)") == 0);
  CHECK(r.out.find("  * 0 issue \"letsencrypt.org\"") != std::string::npos);
  CHECK(r.out.find("    0 issue \"digicert.com\" ") != std::string::npos);
}

TEST_CASE("bad input names the file, the line and the problem") {
  TempFile f("0 issue \"letsencrypt.org\"\n300 issue \"x\"\n");
  Run r = run(options(f.path()));
  CHECK(r.status == k_exit_data);
  CHECK(r.out.empty());
  CHECK(r.err.find(f.path() + ":2: ") != std::string::npos);

  r = run(options("/nonexistent/caad/records"));
  CHECK(r.status == k_exit_no_input);
  CHECK(r.err.find("/nonexistent/caad/records") != std::string::npos);

  EvaluateOptions bad_ca = options("-");
  bad_ca.ca = "not a domain";
  r = run(bad_ca, "0 issue \";\"\n");
  CHECK(r.status == k_exit_usage);
  CHECK(r.err.find("--ca") != std::string::npos);
  CHECK(r.err.find("not a domain") != std::string::npos);

  EvaluateOptions bad_domain = options("-");
  bad_domain.domain = "a..b";
  r = run(bad_domain, "0 issue \";\"\n");
  CHECK(r.status == k_exit_usage);
  CHECK(r.err.find("--domain") != std::string::npos);
}

TEST_CASE("an empty file is an empty record set") {
  TempFile f("; nothing here\n\n");
  Run r = run(options(f.path()));
  CHECK(r.status == k_exit_permitted);
  CHECK(nlohmann::json::parse(r.out)["outcome"] == "no_records");
}
