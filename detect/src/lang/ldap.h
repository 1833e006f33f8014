#pragma once

#include <cstdint>
#include <string_view>

namespace bulwark::detect::lang {

// LDAP filter syntax (RFC 4515) in a value that an application places inside "(attr=VALUE)".
// Takes the normalised, lower-cased value; returns a rule id or 0:
//   10002  a composite filter inside the value: "*(|(mail=*))", "x(&(uid=a)(cn=b))" — an
//          operator followed by at least one complete "(attr op value)" component, after data
//          (a value that is a whole filter, "(&(a=b)(c=d))", is left alone);
//   10003  a wildcard that closes the application's filter: "*)", "*))%00" — an unmatched ')'
//          right after '*' that ends the value or is followed by NUL/another ')';
//   10004  a value made only of filter metacharacters with a wildcard, parentheses and an
//          operator ("*()|&'"): a probe for an LDAP back end.
uint32_t detectLdapFilter(std::string_view low);

// 10005 (a probe, PL2): a value that is a wildcard with filter metacharacters and at most one
// word ("*)(", "*|", "@*"): what scanners send to learn whether a value reaches an LDAP (or
// XPath) filter. Name patterns with a wildcard ("logs-*", "release/*") are not probes.
uint32_t detectLdapWildcardProbe(std::string_view low);

} // namespace bulwark::detect::lang
