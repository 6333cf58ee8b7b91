// The issuance decision. Each reading of the standards is a Rules value; the
// decision is computed under the profile's rules, and, to report divergence,
// also under the RFC 8659 and Let's Encrypt rules. The order of the checks is
// the CA's: critical unknown tags first, then issue/issuewild selection, then
// each applicable property (issuer, accounturi, validationmethods) in turn.
#include "lib/caa/policy.h"

#include <algorithm>
#include <array>

#include "lib/caa/issue_value.h"
#include "lib/util/text.h"

namespace caad::caa {
namespace {

using text::iequals;

// The points where readings differ (CAA-NOTES §6, items 1, 2, 3, 6 and 8).
struct Rules {
  Behaviour behaviour;
  bool flag_1_is_critical;             // LE: reserved bit value 1 acts like 128
  bool contact_tags_recognised;        // BR Appendix A tags processed (RFC/BR reading)
  bool hyphen_parameter_tag_rejected;  // LE: `a-b=c` makes the record malformed
  bool issuer_exact_case;              // LE: issuer domain compared byte for byte
  bool repeated_methods_unsatisfiable; // LE: a second validationmethods is an error
};

constexpr Rules k_rfc8659{Behaviour::rfc8659, false, true, false, false, false};
constexpr Rules k_letsencrypt{Behaviour::letsencrypt, true, false, true, true, true};
// The stricter side of every difference; today that is Let's Encrypt's reading
// on each point, but it is spelled out so that a new difference is a new line.
constexpr Rules k_strictest{Behaviour::strictest, true, false, true, true, true};

const Rules& rules_for(Behaviour b) {
  switch (b) {
    case Behaviour::rfc8659: return k_rfc8659;
    case Behaviour::letsencrypt: return k_letsencrypt;
    case Behaviour::strictest: break;
  }
  return k_strictest;
}

bool recognised(const Record& r, const Rules& rules) {
  static constexpr std::array<std::string_view, 5> k_always{"issue", "issuewild", "iodef", "issuemail",
                                                            "issuevmc"};
  for (auto tag : k_always) {
    if (r.tag_is(tag)) return true;
  }
  return rules.contact_tags_recognised && (r.tag_is("contactemail") || r.tag_is("contactphone"));
}

bool is_critical(const Record& r, const Rules& rules) {
  return r.critical() || (rules.flag_1_is_critical && (r.flags & 0x01) != 0);
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// Judges one applicable issue/issuewild property for this CA.
Finding judge_property(const Record& record, const CaProfile& ca, const Rules& rules) {
  auto parsed = parse_issue_value(record.value);
  if (!parsed) return {Role::unparseable, parsed.error().message};
  const IssueValue& v = *parsed;

  if (rules.hyphen_parameter_tag_rejected) {
    for (const auto& p : v.parameters) {
      if (p.tag.find('-') != std::string::npos) {
        return {Role::unparseable, "parameter tag " + quoted(p.tag) +
                                       " contains a hyphen, which Let's Encrypt rejects as malformed"};
      }
    }
  }
  if (v.issuer.empty()) return {Role::empty_issuer, "names no issuer, which authorizes no CA"};

  bool same_issuer = rules.issuer_exact_case ? v.issuer == ca.issuer : iequals(v.issuer, ca.issuer);
  if (!same_issuer) {
    if (iequals(v.issuer, ca.issuer)) {
      return {Role::other_issuer, "names " + quoted(v.issuer) + ", which differs from " +
                                      quoted(ca.issuer) +
                                      " only in letter case; Let's Encrypt compares byte for byte"};
    }
    return {Role::other_issuer, "names " + quoted(v.issuer) + ", not " + quoted(ca.issuer)};
  }

  std::vector<const Parameter*> accounts;
  std::vector<const Parameter*> methods;
  for (const auto& p : v.parameters) {
    if (iequals(p.tag, "accounturi")) accounts.push_back(&p);
    if (iequals(p.tag, "validationmethods")) methods.push_back(&p);
  }

  if (accounts.size() > 1) {
    return {Role::account_mismatch, "has " + std::to_string(accounts.size()) +
                                        " accounturi parameters, which RFC 8657 makes unsatisfiable"};
  }
  if (accounts.size() == 1) {
    const std::string& want = accounts.front()->value;
    if (!ca.account_uri) {
      return {Role::account_mismatch, "allows only ACME account " + want +
                                          ", and no account URI is configured to prove ours is it"};
    }
    if (want != *ca.account_uri) {
      return {Role::account_mismatch,
              "allows only ACME account " + want + ", not ours (" + *ca.account_uri + ")"};
    }
  }

  if (methods.size() > 1 && rules.repeated_methods_unsatisfiable) {
    return {Role::method_mismatch, "has " + std::to_string(methods.size()) +
                                       " validationmethods parameters, which Let's Encrypt treats as "
                                       "unsatisfiable"};
  }
  // Under the RFC reading every validationmethods parameter is a constraint,
  // so a repeated one must list our method each time.
  for (const Parameter* p : methods) {
    auto list = parse_validation_methods(p->value);
    if (!list) {
      return {Role::method_mismatch,
              "has a malformed validationmethods value " + quoted(p->value) + ", which matches nothing"};
    }
    std::string allowed = list->empty() ? "no method at all" : "only " + join(*list, ", ");
    if (!ca.method) {
      return {Role::method_mismatch,
              "allows validation methods " + allowed + ", and no method is configured to prove ours is one"};
    }
    if (std::find(list->begin(), list->end(), *ca.method) == list->end()) {
      return {Role::method_mismatch,
              "allows validation methods " + allowed + ", not ours (" + *ca.method + ")"};
    }
  }
  return {Role::authorizes, "names " + quoted(v.issuer) + " and its parameters are satisfied"};
}

// Rank of a non-authorizing finding for choosing the record to show: a record
// that names our CA but restricts it says more than one naming another CA.
int blame_rank(Role r) {
  switch (r) {
    case Role::account_mismatch:
    case Role::method_mismatch: return 0;
    case Role::unparseable: return 1;
    case Role::other_issuer: return 2;
    case Role::empty_issuer: return 3;
    default: return 9;
  }
}

struct Core {
  Verdict verdict = Verdict::permitted;
  Outcome outcome = Outcome::no_records;
  std::optional<std::size_t> deciding;
  std::vector<Finding> findings;
};

Core decide(std::span<const Record> records, const CaProfile& ca, bool wildcard, const Rules& rules) {
  Core c;
  c.findings.resize(records.size());
  if (records.empty()) return c;

  // RFC 8659 §4.1: a critical property this CA does not process forbids issuance.
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (!recognised(r, rules) && is_critical(r, rules)) {
      c.findings[i] = {Role::critical_unknown,
                       r.critical() ? "tag " + quoted(r.tag) + " is not processed and the record is critical"
                                    : "tag " + quoted(r.tag) +
                                          " is not processed and flag bit 1 is set, which Let's Encrypt "
                                          "treats as critical"};
      if (!c.deciding) c.deciding = i;
    }
  }
  if (c.deciding) {
    c.verdict = Verdict::denied;
    c.outcome = Outcome::critical_unknown_tag;
    return c;
  }

  // RFC 8659 §4.3: for a wildcard, issuewild (if any) replaces issue.
  bool use_wild = wildcard && std::any_of(records.begin(), records.end(),
                                          [](const Record& r) { return r.tag_is("issuewild"); });
  std::vector<std::size_t> applicable;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (r.tag_is("issue")) {
      if (use_wild) {
        c.findings[i] = {Role::ignored_issue, "issue is ignored for a wildcard name when issuewild exists"};
      } else {
        applicable.push_back(i);
      }
    } else if (r.tag_is("issuewild")) {
      if (use_wild) {
        applicable.push_back(i);
      } else {
        c.findings[i] = {Role::ignored_issuewild, "issuewild applies only to wildcard names"};
      }
    } else {
      c.findings[i] = {Role::not_applicable, "tag " + quoted(r.tag) + " does not restrict issuance"};
    }
  }
  if (applicable.empty()) {
    c.outcome = Outcome::no_applicable_property;
    return c;
  }

  for (std::size_t i : applicable) {
    c.findings[i] = judge_property(records[i], ca, rules);
    if (c.findings[i].role == Role::authorizes && !c.deciding) c.deciding = i;
  }
  if (c.deciding) {
    c.outcome = Outcome::authorized;
    return c;
  }
  c.verdict = Verdict::denied;
  c.outcome = Outcome::not_authorized;
  c.deciding = *std::min_element(applicable.begin(), applicable.end(), [&](std::size_t a, std::size_t b) {
    return blame_rank(c.findings[a].role) < blame_rank(c.findings[b].role);
  });
  return c;
}

std::string where(const Request& req) { return req.owner.empty() ? "" : " at " + req.owner; }

std::string sentence(const Core& c, std::span<const Record> records, const CaProfile& ca,
                     const Request& req) {
  const std::string& issuer = ca.issuer;
  const std::string& domain = req.domain;
  std::string tag = req.wildcard ? "issuewild" : "issue";
  switch (c.outcome) {
    case Outcome::no_records:
      return "No CAA records apply to " + domain + ", so any CA, " + issuer + " included, may issue for it.";
    case Outcome::no_applicable_property:
      return "The CAA records" + where(req) + " contain no " +
             (req.wildcard ? std::string("issue or issuewild") : std::string("issue")) +
             " property, so they do not stop " + issuer + " from issuing for " + domain + ".";
    case Outcome::authorized:
      return "The CAA record `" + records[*c.deciding].presentation() + "`" + where(req) + " allows " +
             issuer + " to issue for " + domain + ".";
    case Outcome::critical_unknown_tag: {
      const Record& r = records[*c.deciding];
      return "The CAA record `" + r.presentation() + "`" + where(req) + " is marked critical with a tag (" +
             r.tag + ") that " + issuer + " does not process, so it may not issue for " + domain +
             "; remove that record or clear its flags.";
    }
    case Outcome::not_authorized: break;
  }
  const Record& r = records[*c.deciding];
  const Finding& f = c.findings[*c.deciding];
  std::string fix = "add `0 " + tag + " \"" + issuer + "\"`" + where(req) + " to allow it";
  switch (f.role) {
    case Role::empty_issuer:
      return "The CAA record `" + r.presentation() + "`" + where(req) + " forbids every CA from issuing for " +
             domain + "; " + fix + ".";
    case Role::unparseable:
      return "The CAA record `" + r.presentation() + "`" + where(req) +
             " cannot be read (" + f.detail + "), which allows no CA, and no other record allows " + issuer +
             " to issue for " + domain + "; fix it or " + fix + ".";
    case Role::account_mismatch:
    case Role::method_mismatch:
      return "The CAA record `" + r.presentation() + "`" + where(req) + " names " + issuer + " but " +
             f.detail + ", so " + issuer + " may not issue for " + domain + ".";
    default: break;
  }
  // Other issuers only: list who is allowed.
  std::vector<std::string> named;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (c.findings[i].role != Role::other_issuer) continue;
    auto v = parse_issue_value(records[i].value);
    if (v && std::find(named.begin(), named.end(), v->issuer) == named.end()) named.push_back(v->issuer);
  }
  // A set of sixty issuers would make a sentence nobody reads to the end.
  constexpr std::size_t k_named_max = 5;
  if (named.size() > k_named_max) {
    std::size_t more = named.size() - k_named_max;
    named.resize(k_named_max);
    named.push_back("and " + std::to_string(more) + " more");
  }
  std::string case_note;
  if (f.detail.find("letter case") != std::string::npos) {
    case_note = " (" + f.detail + ")";
  }
  return "The CAA records" + where(req) + " allow only " + join(named, ", ") + " to issue for " + domain +
         ", not " + issuer + case_note + "; " + fix + ".";
}

std::string explain_divergence(const Core& rfc, const Core& le) {
  auto why = [](const Core& c) {
    if (!c.deciding) return std::string("no record restricts it");
    return c.findings[*c.deciding].detail;
  };
  const Core& refuses = rfc.verdict == Verdict::denied ? rfc : le;
  std::string who_permits = rfc.verdict == Verdict::permitted ? "RFC 8659" : "Let's Encrypt's implementation";
  std::string who_refuses = rfc.verdict == Verdict::denied ? "RFC 8659" : "Let's Encrypt's implementation";
  return "The readings differ: " + who_permits + " permits, but " + who_refuses + " refuses (the record " +
         why(refuses) + ").";
}

}  // namespace

std::string_view to_string(Behaviour b) {
  switch (b) {
    case Behaviour::rfc8659: return "rfc8659";
    case Behaviour::letsencrypt: return "letsencrypt";
    case Behaviour::strictest: break;
  }
  return "strictest";
}

std::optional<Behaviour> parse_behaviour(std::string_view text) {
  for (Behaviour b : {Behaviour::rfc8659, Behaviour::letsencrypt, Behaviour::strictest}) {
    if (text == to_string(b)) return b;
  }
  return std::nullopt;
}

std::string_view to_string(Verdict v) { return v == Verdict::permitted ? "permitted" : "denied"; }

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::no_records: return "no_records";
    case Outcome::no_applicable_property: return "no_applicable_property";
    case Outcome::authorized: return "authorized";
    case Outcome::critical_unknown_tag: return "critical_unknown_tag";
    case Outcome::not_authorized: break;
  }
  return "not_authorized";
}

std::string_view to_string(Role r) {
  switch (r) {
    case Role::not_applicable: return "not_applicable";
    case Role::ignored_issue: return "ignored_issue";
    case Role::ignored_issuewild: return "ignored_issuewild";
    case Role::critical_unknown: return "critical_unknown";
    case Role::authorizes: return "authorizes";
    case Role::empty_issuer: return "empty_issuer";
    case Role::unparseable: return "unparseable";
    case Role::other_issuer: return "other_issuer";
    case Role::account_mismatch: return "account_mismatch";
    case Role::method_mismatch: break;
  }
  return "method_mismatch";
}

Decision evaluate(std::span<const Record> records, const CaProfile& ca, const Request& request) {
  Core core = decide(records, ca, request.wildcard, rules_for(ca.behaviour));
  Core rfc = decide(records, ca, request.wildcard, k_rfc8659);
  Core le = decide(records, ca, request.wildcard, k_letsencrypt);

  Decision d;
  d.verdict = core.verdict;
  d.outcome = core.outcome;
  d.behaviour = ca.behaviour;
  d.deciding_record = core.deciding;
  d.sentence = sentence(core, records, ca, request);
  d.findings = std::move(core.findings);
  if (rfc.verdict != le.verdict) d.divergence = explain_divergence(rfc, le);
  return d;
}

}  // namespace caad::caa
