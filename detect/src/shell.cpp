// OS command injection: the shell view of a value and the command grammar over it.
#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "detectors.h"

namespace bulwark::detect::internal {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
bool isWord(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// Shell view of a value: quotes/backslashes dropped, $IFS -> space, unset variables and
// positional parameters removed, {a,b} brace lists -> "a b".
const std::string& shellView(std::string_view s) {
  thread_local std::string out;
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    // ";id\n": a C-style escaped line break ending a word (the value passed through a layer
    // that unescapes strings) separates commands; inside a word "c\nat" it is an escaped "n".
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == 'r') && i > 0 &&
        isWord(s[i - 1]) && (i + 2 == s.size() || !isWord(s[i + 2]))) {
      out.push_back('\n');
      ++i;
      continue;
    }
    if (c == '\'' || c == '"' || c == '\\' || c == '^') {
      continue; // c'a't, c"a"t, c\at, c^a^t (cmd.exe)
    }
    // pi$()ng, pi<()ng, pi``ng: an empty substitution between two letters splices nothing
    // (letters on both sides, so markdown ``` fences are left alone)
    const auto letter = [](char k) { return k >= 'a' && k <= 'z'; };
    if (i > 0 && letter(s[i - 1])) {
      if ((c == '$' || c == '<' || c == '>') && i + 3 < s.size() && s[i + 1] == '(' &&
          s[i + 2] == ')' && letter(s[i + 3])) {
        i += 2;
        continue;
      }
      if (c == '`' && i + 2 < s.size() && s[i + 1] == '`' && letter(s[i + 2])) {
        ++i;
        continue;
      }
    }
    if (c == '$' && i + 1 < s.size()) {
      const std::string_view rest = s.substr(i + 1);
      if (rest.starts_with("{ifs") || rest.starts_with("ifs")) {
        size_t j = i + 1;
        if (s[j] == '{') {
          const size_t close = s.find('}', j);
          j = close == std::string_view::npos ? s.size() : close + 1;
        } else {
          j += 3;
        }
        out.push_back(' ');
        i = j - 1;
        continue;
      }
      if (rest[0] == '@' || rest[0] == '*' || rest[0] == '!' || rest[0] == '?' || rest[0] == '$' ||
          rest[0] == '#' || rest[0] == '-' || (rest[0] >= '0' && rest[0] <= '9')) {
        ++i;
        continue;
      }
      if (rest[0] >= 'a' && rest[0] <= 'z') {
        size_t j = i + 1;
        while (j < s.size() &&
               ((s[j] >= 'a' && s[j] <= 'z') || s[j] == '_' || (s[j] >= '0' && s[j] <= '9'))) {
          ++j;
        }
        i = j - 1; // $anything: an (unset) variable expands to nothing
        continue;
      }
      if (rest[0] == '{' && rest.size() > 1 && rest[1] != '{') {
        const size_t close = s.find('}', i + 1);
        if (close != std::string_view::npos && close - i < 32) {
          i = close;
          continue;
        }
      }
    }
    if (c == '[') {
      // A bracket glob stands for one of its characters: pa[s]swd, /[e///]tc, [?]
      const size_t close = s.find(']', i + 1);
      if (close != std::string_view::npos && close > i + 1 && close - i <= 16) {
        const std::string_view inner = s.substr(i + 1, close - i - 1);
        if (inner.find(' ') == std::string_view::npos) {
          const size_t pick = inner.find_first_not_of("/!^");
          out.push_back(pick == std::string_view::npos ? '?' : inner[pick]);
          i = close;
          continue;
        }
      }
    }
    if (c == '+') {
      out.push_back(' '); // a '+' that reached us literal is a URL-encoded space to the shell
      continue;
    }
    if (c == '{') {
      const size_t close = s.find('}', i);
      if (close != std::string_view::npos && close - i < 128) {
        const std::string_view inner = s.substr(i + 1, close - i - 1);
        if (inner.find(',') != std::string_view::npos &&
            inner.find_first_of(" {\"") == std::string_view::npos) {
          for (const char k : inner) {
            out.push_back(k == ',' ? ' ' : k);
          }
          i = close;
          continue;
        }
      }
    }
    out.push_back(c);
  }
  return out;
}

struct Command {
  std::string_view name;
  bool strong; // never an English word: no argument shape needed
};

constexpr auto kCommands = std::to_array<Command>({
    {"whoami", true},     {"uname", true},      {"ifconfig", true}, {"ipconfig", true},
    {"netstat", true},    {"nslookup", true},   {"wget", true},     {"curl", true},
    {"ncat", true},       {"netcat", true},     {"socat", true},    {"busybox", true},
    {"bash", true},       {"zsh", true},        {"ksh", true},      {"tcsh", true},
    {"csh", true},        {"dash", false},      {"sh", true},       {"python", true},
    {"python2", true},    {"python3", true},    {"perl", true},     {"ruby", true},
    {"php", true},        {"node", false},      {"lua", false},     {"chmod", true},
    {"chown", true},      {"crontab", true},    {"passwd", true},   {"useradd", true},
    {"usermod", true},    {"systeminfo", true}, {"tasklist", true}, {"taskkill", true},
    {"powershell", true}, {"pwsh", true},       {"certutil", true}, {"bitsadmin", true},
    {"wmic", true},       {"mshta", true},      {"rundll32", true}, {"regsvr32", true},
    {"cscript", true},    {"wscript", true},    {"nmap", true},     {"tcpdump", true},
    {"iptables", true},   {"base64", true},     {"xxd", true},      {"hexdump", true},
    {"printenv", true},   {"mkfifo", true},     {"telnet", true},   {"traceroute", true},
    {"lsof", true},       {"sudo", true},       {"gcc", true},      {"nohup", true},
    {"cmd", false},       {"hostname", true},   {"uptime", true},   {"nc", false},
    {"cat", false},       {"tac", false},       {"nl", false},      {"head", false},
    {"tail", false},      {"more", false},      {"less", false},    {"ls", false},
    {"dir", false},       {"id", false},        {"ip", false},      {"ps", false},
    {"kill", false},      {"pkill", true},      {"killall", true},  {"ssh", false},
    {"scp", true},        {"ftp", false},       {"tftp", true},     {"java", false},
    {"rm", false},        {"mv", false},        {"cp", false},      {"touch", false},
    {"mkdir", false},     {"rmdir", true},      {"ln", false},      {"echo", false},
    {"printf", false},    {"sleep", false},     {"ping", false},    {"dig", false},
    {"host", false},      {"env", false},       {"export", false},  {"set", false},
    {"eval", false},      {"exec", false},      {"xargs", true},    {"find", false},
    {"locate", false},    {"grep", true},       {"egrep", true},    {"awk", true},
    {"gawk", true},       {"sed", false},       {"od", false},      {"sudo", true},
    {"su", false},        {"systemctl", true},  {"mount", false},   {"dd", false},
    {"tar", false},       {"zip", false},       {"unzip", false},   {"gzip", false},
    {"timeout", false},   {"time", false},      {"which", false},   {"whereis", true},
    {"who", false},       {"w", false},         {"last", false},    {"finger", false},
    {"nmap", true},       {"shutdown", false},  {"reboot", false},  {"openssl", true},
    {"rev", false},       {"tr", false},        {"sort", false},    {"uniq", false},
    {"wc", false},        {"diff", false},      {"strings", false}, {"df", false},
    {"vi", false},        {"vim", false},       {"expr", false},    {"tee", false},
    {"whois", false},     {"rsync", true},      {"type", false},    {"net", false},
    {"netsh", true},      {"reg", false},       {"del", false},     {"start", false},
    {"schtasks", true},   {"sc", false},
    // administration / provisioning tools: never English words
    {"ansible", true},    {"ansible-config", true}, {"ansible-console", true},
    {"ansible-inventory", true}, {"ansible-vault", true}, {"ansible-playbook", true},
    {"ansible-galaxy", true}, {"chef-vault", true}, {"chef-run", true}, {"chef-client", true},
    {"knife", false},     {"visudo", true},     {"lastlog", true},  {"htop", true},
    {"aptitude", true},   {"apt-get", true},    {"yum", true},      {"dnf", true},
    {"ssh-copy-id", true}, {"ssh-keygen", true}, {"rmt-tar", true}, {"cscli", true},
    {"pipx", true},       {"pip", false},       {"pip3", false},    {"npm", false},
    {"docker", false},    {"kubectl", false},    {"journalctl", true}, {"dmesg", true},
    {"strace", true},     {"ltrace", true},     {"gdb", true},      {"bcdboot", true},
    {"bcdedit", true},    {"vssadmin", true},   {"fold", false},    {"comm", false},
    {"trap", false},      {"alias", false},     {"perf", false},    {"cd", false},
    {"column", false},    {"cut", false},       {"top", false},     {"chef", false},
    {"iwr", true},        {"irm", true},        {"bsdtar", true},   {"irb", true},
    {"rmt-dump", true},   {"rmt", false},       {"aa-disable", true}, {"aa-exec", true},
    {"ansible-doc", true}, {"ansible-pull", true}, {"chef-shell", true}, {"chef-solo", true},
    {"watch", false},     {"source", false},
});

// Administration tools that nobody names at the start of a search or a sentence: a value that
// begins with one of them is a command line ("cscli alerts list", "visudo").
constexpr auto kTools = std::to_array<std::string_view>({
    "ansible-config", "ansible-console", "ansible-doc", "ansible-galaxy", "ansible-inventory",
    "ansible-playbook", "ansible-pull", "ansible-vault", "chef-client", "chef-run", "chef-shell",
    "chef-solo", "chef-vault", "visudo", "cscli", "pipx", "whoami", "ifconfig", "ipconfig",
    "systeminfo", "tasklist", "taskkill", "certutil", "bitsadmin", "wmic", "mshta", "rundll32",
    "regsvr32", "useradd", "usermod", "mkfifo", "printenv", "xxd", "bcdboot", "bcdedit",
    "vssadmin", "rmt-tar", "rmt-dump", "ssh-copy-id", "aa-disable", "aa-exec",
});

// Well-known tools people also search and write about ("tcpdump examples"): a command line
// only with an argument shaped like one ("ansible all -m ping", "tcpdump -i eth0").
constexpr auto kKnownTools = std::to_array<std::string_view>({
    "ansible", "tcpdump", "iptables", "journalctl", "dmesg", "strace", "ltrace", "busybox",
    "socat", "ncat", "netcat", "nslookup", "netstat", "lastlog", "schtasks", "netsh", "hexdump",
    "bsdtar", "ssh-keygen", "apt-get",
});

// Any later word of s (from pos) shaped like an argument: an option, a path, a variable, a
// file name or an assignment.
bool shapedArgument(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    while (pos < s.size() && isSpace(s[pos])) {
      ++pos;
    }
    const size_t start = pos;
    while (pos < s.size() && !isSpace(s[pos])) {
      ++pos;
    }
    const std::string_view w = s.substr(start, pos - start);
    if (!w.empty() && (w[0] == '-' || w[0] == '/' || w[0] == '~' || w[0] == '$' ||
                       w.find_first_of(".=") != std::string_view::npos)) {
      return true;
    }
  }
  return false;
}

// Commands that read files: "cat /etc/x" at the start of a value is a command line.
constexpr auto kFileCommands = std::to_array<std::string_view>({
    "cat", "tac", "nl", "head", "tail", "ls", "rm", "cp", "mv", "touch", "mkdir", "ln", "od",
    "tar", "zip", "unzip", "gzip", "dd", "grep", "sed", "strings", "tee", "vi", "vim", "wc",
    "diff", "sort", "uniq", "rev", "cd", "fold", "comm", "column", "cut", "source", "chmod",
    "chown", "more", "less",
});

// The command table sorted by name (built once): every value with a space or a separator
// looks words up here.
const std::vector<const Command*>& commandIndex() {
  static const std::vector<const Command*> index = [] {
    std::vector<const Command*> v;
    for (const auto& c : kCommands) {
      v.push_back(&c);
    }
    std::sort(v.begin(), v.end(),
              [](const Command* a, const Command* b) { return a->name < b->name; });
    return v;
  }();
  return index;
}

const Command* findExact(std::string_view word) {
  if (word.empty() || word.size() > 20) {
    return nullptr;
  }
  const auto& index = commandIndex();
  const auto it =
      std::lower_bound(index.begin(), index.end(), word,
                       [](const Command* c, std::string_view w) { return c->name < w; });
  return it != index.end() && (*it)->name == word ? *it : nullptr;
}

// The command a word names; versioned interpreters and compilers (python3.10, gcc10.1) name
// their unversioned command.
const Command* findCommand(std::string_view word) {
  if (const Command* c = findExact(word); c != nullptr) {
    return c;
  }
  size_t n = word.size();
  while (n > 0 && ((word[n - 1] >= '0' && word[n - 1] <= '9') || word[n - 1] == '.')) {
    --n;
  }
  if (n >= 2 && n < word.size() && word[n] >= '0' && word[n] <= '9') {
    if (const Command* c = findExact(word.substr(0, n)); c != nullptr && c->strong) {
      return c;
    }
  }
  return nullptr;
}

// Commands that do something with no operand ("; id", "|ls", "`whoami`", "$(env)", "|rev"):
// the others (rm, cp, ln, ip, wc, vi, sc, ...) need an argument to be a command line, and a
// one-letter name (w) needs an option. Interactive viewers (top, more, less) and "start" print
// nothing to a request without an operand, and are words of labels ("728x90 | top").
constexpr auto kBareCommands = std::to_array<std::string_view>({
    "id", "ls", "ps", "who", "env", "set", "dir", "cmd", "echo", "cat", "rev", "pwd", "df",
    "last", "date", "ver", "reboot", "shutdown", "dash", "node", "lua", "java", "ssh",
    "printf", "export", "finger", "whois", "net", "tac", "ftp",
});

template <size_t N>
bool listed(const std::array<std::string_view, N>& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// Everything before pos is separators and blanks: the value opens by ending a command.
bool opensWithSeparator(std::string_view s, size_t pos) {
  if (pos == 0 || pos > s.size()) {
    return false;
  }
  for (size_t k = 0; k < pos; ++k) {
    const char c = s[k];
    if (c != ';' && c != '|' && c != '&' && c != '\n' && !isSpace(c)) {
      return false;
    }
  }
  return true;
}

// A redirection of output to a file path in one simple command: "echo x > /var/www/x.php",
// "cat k >> ~/.ssh/authorized_keys", "id>/tmp/o".
bool redirectsToPath(std::string_view cmd) {
  for (size_t k = cmd.find('>'); k != std::string_view::npos; k = cmd.find('>', k + 1)) {
    size_t f = k + 1;
    if (f < cmd.size() && cmd[f] == '>') {
      ++f;
    }
    while (f < cmd.size() && cmd[f] == ' ') {
      ++f;
    }
    if (f + 1 < cmd.size() && (cmd[f] == '/' || cmd[f] == '~' || cmd[f] == '.') &&
        (isWord(cmd[f + 1]) || cmd[f + 1] == '/')) {
      return true;
    }
  }
  return false;
}

// Shell pathname expansion of a word with '?' / '*' against the command table: the first
// command whose name the pattern matches ("ca?", "??t", "c*t" name cat), or null.
bool globMatch(std::string_view pat, std::string_view name) {
  if (pat.empty()) {
    return name.empty();
  }
  if (pat[0] == '*') {
    for (size_t k = 0; k <= name.size(); ++k) {
      if (globMatch(pat.substr(1), name.substr(k))) {
        return true;
      }
    }
    return false;
  }
  return !name.empty() && (pat[0] == '?' || pat[0] == name[0]) &&
         globMatch(pat.substr(1), name.substr(1));
}

const Command* findGlobbed(std::string_view word) {
  if (word.empty() || word.size() > 20 || word.find_first_of("?*") == std::string_view::npos ||
      std::count(word.begin(), word.end(), '*') > 2) {
    return nullptr;
  }
  for (const auto& c : kCommands) {
    if (globMatch(word, c.name)) {
      return &c;
    }
  }
  return nullptr;
}

// At pos a command may start: optional path prefix (/usr/bin/), the word, then an argument
// shape. Returns true when it reads as a command invocation.
// shellSyntax: the value already uses syntax only a shell has ($IFS as a blank), so any known
// command after a separator is one.
bool commandAt(std::string_view s, size_t pos, bool afterSeparator, bool shellSyntax = false) {
  size_t i = pos;
  while (i < s.size() && isSpace(s[i])) {
    ++i;
  }
  // Path prefix: /bin/cat, /usr/local/bin/python, c:\windows\system32\cmd
  size_t wordStart = i;
  const size_t pathStart = i;
  bool hadPath = false;
  // Only a path the shell resolves from a root names a binary: /bin/x, ./x, ~/x, c:/x (not an
  // API path such as _nodes/abc/shutdown).
  const bool rooted = i < s.size() && (s[i] == '/' || s[i] == '.' || s[i] == '~' ||
                                       (i + 1 < s.size() && s[i + 1] == ':'));
  while (i < s.size() && (isWord(s[i]) || s[i] == '/' || s[i] == '?' || s[i] == '*')) {
    if (s[i] == '/') {
      wordStart = i + 1;
      hadPath = rooted && i > pathStart; // a directory before the name: /bin/id, ./x, not /w
    }
    ++i;
  }
  std::string_view word = s.substr(wordStart, i - wordStart);
  if (word.ends_with(".exe")) {
    word.remove_suffix(4);
  }
  const Command* cmd = findCommand(word);
  if (cmd == nullptr && hadPath && s[i - 1] != '/') {
    // "/bin/ca? /et*/passwd", "/???/??t": a globbed binary under a rooted path is expanded by
    // the shell to a command; it runs like one named plainly.
    cmd = findGlobbed(word);
    if (cmd != nullptr && (afterSeparator || word.find_first_not_of("?*") != std::string_view::npos)) {
      size_t j = i;
      while (j < s.size() && isSpace(s[j])) {
        ++j;
      }
      if (afterSeparator || (j < s.size() && (s[j] == '/' || s[j] == '-'))) {
        return true;
      }
    }
    return false;
  }
  if (cmd == nullptr) {
    return false;
  }
  const bool end = i >= s.size();
  const char next = end ? '\0' : s[i];
  if (!end && !(isSpace(next) || next == ';' || next == '|' || next == '&' || next == '`' ||
                next == ')' || next == '<' || next == '>' || next == '#' || next == '\n')) {
    return false;
  }
  // A command with nothing after it ("&id", "|ls", "|sh#") injected after text a user types
  // (an address, a name, a closed quote); after glob, brace or tilde characters
  // ("R[&id", "~Rte9{hH|ls") the separator is one more random character.
  size_t sepStart = pos;
  while (sepStart > 0 && std::string_view(";|&`$<>( \n").find(s[sepStart - 1]) != std::string_view::npos) {
    --sepStart;
  }
  // (the 64 characters before the separator: the text it ends)
  const auto typed = [&] {
    const size_t from = sepStart > 64 ? sepStart - 64 : 0;
    return hadPath || !afterSeparator ||
           s.substr(from, sepStart - from).find_first_of("[]{}~%*!?") == std::string_view::npos;
  };
  if (cmd->strong && (hadPath || (afterSeparator && (word.size() > 2 || typed())))) {
    return true;
  }
  if (afterSeparator && pos > 0 && s[pos - 1] == '`' && s.find('`', i) != std::string_view::npos &&
      (cmd->strong || listed(kBareCommands, word) || (next == ' ' && word.size() > 1)) &&
      (word == "echo" || word == "id" || word == "sleep" || word == "ping" || pos == 1 ||
       !(isSpace(s[pos - 2]) || (s[pos - 2] >= 'a' && s[pos - 2] <= 'z')))) {
    return true; // `echo x`, =`cut x`: a command substitution, not markdown inline code
  }
  if (word == "time" || word == "nice" || word == "nohup" || word == "timeout" || word == "sudo" ||
      word == "env" || word == "exec" || word == "command" || word == "xargs" || word == "strace" ||
      word == "busybox" || word == "doas" || word == "trap" || word == "watch") {
    size_t k = i;
    while (k < s.size() && isSpace(s[k])) {
      ++k;
    }
    while (k < s.size() && s[k] == '-') { // flags of the wrapper: "timeout -s 9 5 cmd"
      while (k < s.size() && !isSpace(s[k])) {
        ++k;
      }
      while (k < s.size() && isSpace(s[k])) {
        ++k;
      }
    }
    while (k < s.size() && s[k] >= '0' && s[k] <= '9') {
      while (k < s.size() && !isSpace(s[k])) {
        ++k;
      }
      while (k < s.size() && isSpace(s[k])) {
        ++k;
      }
    }
    if (k > i && k < s.size()) {
      size_t e = k;
      while (e < s.size() && (isWord(s[e]) || s[e] == '/')) {
        ++e;
      }
      std::string_view inner = s.substr(k, e - k);
      if (const size_t slash = inner.rfind('/'); slash != std::string_view::npos) {
        inner.remove_prefix(slash + 1);
      }
      const Command* wrapped = findCommand(inner);
      size_t f = e;
      while (f < s.size() && isSpace(s[f])) {
        ++f;
      }
      const bool flag = f + 1 < s.size() && s[f] == '-' && s[f + 1] >= 'a' && s[f + 1] <= 'z';
      if (wrapped != nullptr && (wrapped->strong || flag)) {
        return true; // "time curl x", "nohup /bin/sh", "trap 'rm -rf x'"
      }
    }
  }
  if (!afterSeparator && !hadPath) {
    // At the very start of a value: only strong commands with an argument shape, or a file
    // command reading an absolute path ("cat /path/file.gz").
    if (!cmd->strong) {
      size_t j = i;
      while (j < s.size() && isSpace(s[j])) {
        ++j;
      }
      return listed(kFileCommands, word) && j > i && j + 1 < s.size() && s[j] == '/' &&
             s[j + 1] >= 'a' && s[j + 1] <= 'z';
    }
  }
  const bool bare = (hadPath || cmd->strong || listed(kBareCommands, word)) && typed();
  if (end || next == '`' || next == ')') {
    // "; id"  "`ls`"  "$(id)": a ')' closes a '(' the value opened
    return (afterSeparator && bare &&
            (next != ')' || std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(pos), '(') >
                                std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(pos), ')'))) ||
           hadPath;
  }
  if (next == ';' || next == '|' || next == '&' || next == '#') {
    if (!bare && !(afterSeparator && opensWithSeparator(s, pos) &&
                   s.find_first_not_of(";|& ", i + 1) == std::string_view::npos)) {
      return false; // "&rm;" is random text, ";w|" a probe that ends the command before it
    }
    // "a;cat;b" is a list of words, "/bin/id;" is not; nor is ";id|" or "|id|": a value that
    // opens with a separator ends the application's command before the word.
    return hadPath || (afterSeparator && opensWithSeparator(s, pos));
  }
  // Argument shape: a flag, a path, a variable, a redirection, an address.
  size_t j = i;
  while (j < s.size() && isSpace(s[j])) {
    ++j;
  }
  if (j >= s.size()) {
    return afterSeparator && bare;
  }
  const char a = s[j];
  if (a == '-' &&
      !(j + 1 < s.size() && ((s[j + 1] >= 'a' && s[j + 1] <= 'z') || s[j + 1] == '-'))) {
    return false; // "nc - boys": a dash, not a flag
  }
  if (word.size() == 1 && a != '-') {
    return false; // "&w>x": a letter, not the w command (which takes options)
  }
  // A redirection or a pipe is no operand ("&tr<y", "&mv<||"), and a substitution as the
  // argument must close.
  if (((a == '<' || a == '>' || a == '|') && !bare) ||
      (!afterSeparator && !hadPath && (a == '<' || a == '>' || a == '|' || a == '*' || a == '`')) ||
      (a == '`' && s.find('`', j + 1) == std::string_view::npos)) {
    return false;
  }
  if (a >= 'a' && a <= 'z' && j + 1 < s.size() && s[j + 1] == ':' &&
      (j + 2 == s.size() || s[j + 2] == ' ' || s[j + 2] == '/')) {
    return afterSeparator || hadPath; // "& dir c:\" (the shell view drops backslashes)
  }
  // cmd.exe expands %NAME% like a shell variable: "& echo %USERNAME%", "& type %windir%\x"
  const bool cmdVariable = a == '%' && j + 2 < s.size() && s[j + 1] >= 'a' && s[j + 1] <= 'z' &&
                           s.find('%', j + 2) != std::string::npos;
  if (a == '-' || a == '/' || a == '$' || a == '<' || a == '>' || a == '|' || a == '~' ||
      a == '`' || a == '*' || cmdVariable ||
      (a == '.' && j + 1 < s.size() && (s[j + 1] == '/' || s[j + 1] == '.'))) {
    return afterSeparator || hadPath || cmd->strong;
  }
  if (afterSeparator) {
    if (shellSyntax) {
      return true; // ";echo${IFS}test"
    }
    size_t e = j;
    while (e < s.size() && s[e] != ';' && s[e] != '|' && s[e] != '&' && s[e] != '\n') {
      ++e;
    }
    if (redirectsToPath(s.substr(j, e - j))) {
      return true; // "; echo x > /var/www/html/x.php"
    }
    // "a&&echo vulnerable", "x || ps aux": '&&' and '||' join commands in a shell (the value
    // opened a list); a known command there with word arguments runs.
    size_t b = pos;
    while (b > 0 && isSpace(s[b - 1])) {
      --b;
    }
    if (b >= 2 && ((s[b - 1] == '&' && s[b - 2] == '&') || (s[b - 1] == '|' && s[b - 2] == '|')) &&
        a >= 'a' && a <= 'z') {
      return true;
    }
  }
  // ping 127.0.0.1, sleep 5, nslookup host
  if (afterSeparator && a >= '0' && a <= '9' &&
      (word == "ping" || word == "sleep" || word == "timeout" || word == "nc" || word == "dig" ||
       word == "host")) {
    return true;
  }
  return false;
}

// An IPv4 address opening the value, then a command separator and a known command: the
// address a diagnostics page passes to ping or traceroute, with a command joined to it
// ("127.0.0.1|echo x", "8.8.8.8; id", "10.0.0.1 && curl http://x").
bool addressThenCommand(std::string_view s) {
  size_t i = 0;
  int parts = 0;
  while (parts < 4) {
    size_t d = i;
    while (d < s.size() && d - i < 3 && s[d] >= '0' && s[d] <= '9') {
      ++d;
    }
    if (d == i) {
      return false;
    }
    ++parts;
    i = d;
    if (parts < 4) {
      if (i >= s.size() || s[i] != '.') {
        return false;
      }
      ++i;
    }
  }
  while (i < s.size() && isSpace(s[i]) && s[i] != '\n') {
    ++i;
  }
  const size_t sep = i;
  bool semicolonOnly = true; // "; set as gateway" may be punctuation; '|', '&&', '`', "$(" never
  while (i < s.size() && (s[i] == ';' || s[i] == '|' || s[i] == '&' || s[i] == '\n' || s[i] == '`')) {
    semicolonOnly = semicolonOnly && s[i] == ';';
    ++i;
  }
  if (i == sep && !(i + 1 < s.size() && s[i] == '$' && s[i + 1] == '(')) {
    return false;
  }
  if (i < s.size() && s[i] == '$' && i + 1 < s.size() && s[i + 1] == '(') {
    semicolonOnly = false;
    i += 2;
  }
  while (i < s.size() && isSpace(s[i])) {
    ++i;
  }
  size_t e = i;
  while (e < s.size() && isWord(s[e])) {
    ++e;
  }
  const Command* cmd = e > i ? findCommand(s.substr(i, e - i)) : nullptr;
  if (cmd == nullptr || !(e == s.size() || isSpace(s[e]) || s[e] == ';' || s[e] == '|' ||
                          s[e] == '&' || s[e] == '`' || s[e] == ')')) {
    return false;
  }
  // After a lone ';' a command that is also a word ("192.168.1.1; set as gateway") needs to
  // end the value or take an argument shaped like one.
  size_t a = e;
  while (a < s.size() && s[a] == ' ') {
    ++a;
  }
  return !semicolonOnly || cmd->strong || a >= s.size() || s[a] == '-' || s[a] == '/' || s[a] == '$' ||
         s[a] == '~' || s[a] == '`' || s[a] == '|' || s[a] == ';' || s[a] == '&' ||
         (a > e && s.find('.', a) < s.find(' ', a) && s.find('.', a) != std::string_view::npos);
}

// The word opening a value after its blanks; `end` is set past it.
std::string_view leadingWord(std::string_view s, size_t& end) {
  size_t i = 0;
  while (i < s.size() && isSpace(s[i])) {
    ++i;
  }
  end = i;
  while (end < s.size() && isWord(s[end])) {
    ++end;
  }
  return s.substr(i, end - i);
}

// A value that starts like a command line without any separator: an administration tool
// ("ansible-vault decrypt x", "'cscli' alerts"), or any known command with a long option
// ("env --version"). 4006. A ';' list of two or more known commands where one has an
// argument shaped like one ("cd /tmp;ls -la"): 4007, a probe; a list of three or more where every
// part is a known command and one has such an argument ("cd /;cd etc;column passwd"): 4025.
uint32_t toolLine(std::string_view s) {
  size_t e = 0;
  const std::string_view word = leadingWord(s, e);
  const bool boundary = e == s.size() || isSpace(s[e]);
  if (!word.empty() && boundary) {
    if (listed(kTools, word) || (listed(kKnownTools, word) && shapedArgument(s, e))) {
      return 4006;
    }
    if (findCommand(word) != nullptr && e + 3 < s.size() && s[e] == ' ' && s[e + 1] == '-' &&
        s[e + 2] == '-' && s[e + 3] >= 'a' && s[e + 3] <= 'z') {
      return 4006;
    }
  }
  size_t commands = 0;
  size_t segments = 0;
  bool argument = false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(';', start);
    if (end == std::string_view::npos) {
      end = s.size();
    }
    std::string_view seg = s.substr(start, end - start);
    while (!seg.empty() && isSpace(seg.front())) {
      seg.remove_prefix(1);
    }
    while (!seg.empty() && isSpace(seg.back())) {
      seg.remove_suffix(1);
    }
    segments += seg.empty() ? 0 : 1;
    size_t w = 0;
    while (w < seg.size() && isWord(seg[w])) {
      ++w;
    }
    if (w > 0 && findCommand(seg.substr(0, w)) != nullptr &&
        (w == seg.size() || isSpace(seg[w]))) {
      ++commands;
      size_t a = w;
      while (a < seg.size() && isSpace(seg[a])) {
        ++a;
      }
      // an argument shaped like one: a path, an option, a home file, a variable
      argument |= a > w && a < seg.size() &&
                  (seg[a] == '/' || seg[a] == '-' || seg[a] == '~' || seg[a] == '$' ||
                   seg[a] == '.');
    }
    if (end == s.size()) {
      break;
    }
    start = end + 1;
  }
  if (commands >= 3 && commands == segments && argument) {
    return 4025; // "cd /;cd etc;column passwd": every part of the list is a command
  }
  return commands >= 2 && argument ? 4007 : 0; // two commands: at least one ';' between them
}

// "& More | Verizon Wireless": a command word with no argument piped into a word that is not a
// command does not parse as a pipeline; it is a title with punctuation.
bool pipedIntoProse(std::string_view s, size_t pos) {
  size_t k = pos;
  while (k < s.size() && isSpace(s[k])) {
    ++k;
  }
  while (k < s.size() && isWord(s[k])) {
    ++k;
  }
  while (k < s.size() && isSpace(s[k])) {
    ++k;
  }
  if (k + 1 >= s.size() || s[k] != '|' || s[k + 1] == '|') {
    return false;
  }
  return !commandAt(s, k + 1, true);
}

// A quoted piece of one to three characters glued to the next word: "'-'9", "c'a't", "\"-\"l".
// Nobody quotes a single letter or dash inside a word except to hide it from a filter.
bool quoteSpliced(std::string_view low) {
  for (size_t k = 0; k + 2 < low.size(); ++k) {
    const char q = low[k];
    if (q != '\'' && q != '"') {
      continue;
    }
    const size_t close = low.find(q, k + 1);
    if (close == std::string_view::npos || close == k + 1 || close > k + 4 || close + 1 >= low.size()) {
      continue;
    }
    const char after = low[close + 1];
    bool plain = (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9');
    for (size_t m = k + 1; m < close && plain; ++m) {
      plain = (low[m] >= 'a' && low[m] <= 'z') || (low[m] >= '0' && low[m] <= '9') || low[m] == '-';
    }
    if (plain) {
      return true;
    }
    k = close - 1;
  }
  return false;
}

} // namespace

namespace {

// The shell variables a value assigns: "name=" at the start of a word. One pass; at most
// kMaxAssigned names, and `all` when there are more (then every name counts as assigned).
struct Assigned {
  static constexpr size_t kMaxAssigned = 32;
  std::array<std::string_view, kMaxAssigned> names{};
  size_t count = 0;
  bool all = false;

  explicit Assigned(std::string_view value) {
    for (size_t i = 0; i < value.size(); ++i) {
      const bool wordStart =
          i == 0 || std::string_view(" \t\r\n;&|`(){").find(value[i - 1]) != std::string_view::npos;
      const char c = value[i];
      if (!wordStart || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) {
        continue;
      }
      size_t j = i + 1;
      while (j < value.size() && ((value[j] >= 'a' && value[j] <= 'z') ||
                                  (value[j] >= 'A' && value[j] <= 'Z') ||
                                  (value[j] >= '0' && value[j] <= '9') || value[j] == '_')) {
        ++j;
      }
      if (j < value.size() && value[j] == '=') {
        if (count == kMaxAssigned) {
          all = true;
          return;
        }
        names[count++] = value.substr(i, j - i);
      }
      i = j - 1;
    }
  }

  bool has(std::string_view name) const {
    return all || std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(count),
                            name) != names.begin() + static_cast<std::ptrdiff_t>(count);
  }
};

} // namespace

// The whole value is one command line of a known command: a command that takes no argument
// to report on the host ("id", "whoami", "uname"), or any known command with an argument
// ("nslookup abc.example", "wget http://x/a.sh", "echo test"). A line, not a document. (A bare
// "ls", "rm", "ping" is a file manager connector's or an API's command name: elFinder's cmd=ls.)
bool commandLine(std::string_view low) {
  if (low.find('\n') != std::string_view::npos) {
    return false;
  }
  const std::string& s = shellView(low.substr(0, 8192));
  size_t e = 0;
  const std::string_view word = leadingWord(s, e);
  const Command* cmd = word.empty() ? nullptr : findCommand(word);
  if (cmd == nullptr) {
    return false;
  }
  size_t a = e;
  while (a < s.size() && isSpace(s[a])) {
    ++a;
  }
  if (a == s.size()) {
    for (const std::string_view w : {"id", "whoami", "uname", "hostname", "ifconfig", "ipconfig",
                                     "pwd", "env", "printenv", "netstat", "systeminfo", "ver"}) {
      if (word == w) {
        return true;
      }
    }
    return false;
  }
  if (a == e) {
    return false;
  }
  if (cmd->strong) {
    return true; // "nslookup x.example", "wget http://x/a.sh"
  }
  // A command that is also a word ("set alarm for 7am", "find my phone", "watch netflix")
  // needs an argument shaped like one: an option, a path, a variable, a URL, an address.
  size_t t = a;
  while (t < s.size() && !isSpace(s[t])) {
    ++t;
  }
  const std::string_view arg = std::string_view(s).substr(a, t - a);
  if (arg[0] == '-' || arg[0] == '/' || arg[0] == '~' || arg[0] == '$' || arg[0] == '.' ||
      arg.find("://") != std::string_view::npos) {
    return true;
  }
  return arg.find('.') != std::string_view::npos && arg.back() != '.' &&
         std::all_of(arg.begin(), arg.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':';
         });
}

bool splicesCommand(std::string_view value) {
  thread_local std::string s;
  thread_local std::vector<bool> mark; // a splice was removed right before s[i]
  s.clear();
  mark.clear();
  bool pending = false;
  // "a=wh;b=oa;c=mi;$a$b$c": a command assembled from variables the value defines. Without a
  // definition the chain is data: ASP.NET WebForms names its controls ctl00$Main$Grid$ctl02$Edit.
  size_t vars = 0;
  bool defined = false;
  std::optional<Assigned> assigned; // read once, at the first variable
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = static_cast<char>(value[i] >= 'A' && value[i] <= 'Z' ? value[i] + 32 : value[i]);
    if (c == '$' && i + 1 < value.size()) {
      size_t j = i + 1 + (value[i + 1] == '{' ? 1 : 0);
      const size_t name = j;
      while (j < value.size() && (isWord(static_cast<char>(value[j] | 0x20)) && value[j] != '-' &&
                                  value[j] != '.')) {
        ++j;
      }
      if (j > name && !(value[name] >= '0' && value[name] <= '9')) {
        if (!assigned) {
          assigned.emplace(value);
        }
        defined = defined || assigned->has(value.substr(name, j - name));
        if (++vars >= 3 && defined) {
          return true;
        }
        if (j < value.size() && value[j] == '}') {
          ++j;
        }
        if (j < value.size() && value[j] == '$') {
          i = j - 1;
          continue;
        }
      }
    }
    vars = 0;
    defined = false;
    const std::string_view rest = value.substr(i);
    size_t len = 0;
    for (const std::string_view sp : {"$@", "$*", "``", "$()", "<()", ">()", "\"\"", "''"}) {
      if (rest.starts_with(sp)) {
        len = sp.size();
        break;
      }
    }
    if (len != 0) {
      pending = true;
      i += len - 1;
      continue;
    }
    s.push_back(c);
    mark.push_back(pending);
    pending = false;
  }
  // Each word touching a splice, and each path component of it, looked up as a command: once
  // per word (the splices of a long word all touch the same one).
  size_t lastB = 0;
  size_t lastE = 0; // the word looked up last: [lastB, lastE)
  for (size_t k = 0; k < s.size(); ++k) {
    if (!mark[k]) {
      continue;
    }
    for (const size_t at : {k, k > 0 ? k - 1 : k}) {
      if (!isWord(s[at]) || (at >= lastB && at < lastE)) {
        continue;
      }
      size_t b = at;
      size_t e = at;
      while (b > 0 && isWord(s[b - 1])) {
        --b;
      }
      while (e < s.size() && isWord(s[e])) {
        ++e;
      }
      lastB = b;
      lastE = e;
      if (findCommand(std::string_view(s).substr(b, e - b)) != nullptr) {
        return true;
      }
    }
  }
  return false;
}

uint32_t detectShell(std::string_view low) {
  const std::string& s = shellView(low.substr(0, 8192));
  const bool ifs = low.find("${ifs}") != std::string_view::npos ||
                   low.find("$ifs") != std::string_view::npos;
  const size_t n = s.size();
  // A text of several lines is a document (README, code sample): lines are not commands.
  const bool document = std::count(s.begin(), s.end(), '\n') >= 3;
  size_t backticks = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i];
    bool sep = false;
    size_t next = i + 1;
    if (c == '`' && ((i + 1 < n && s[i + 1] == '`') || (i > 0 && s[i - 1] == '`'))) {
      continue; // markdown code fence
    }
    if (c == '`') {
      // A command substitution opens here only when a later '`' closes it (an odd one out is
      // a syntax error, and a closing one ends the substitution).
      ++backticks;
      if (backticks % 2 == 0 || s.find('`', i + 1) == std::string::npos) {
        continue;
      }
    }
    if (c == ';' || c == '|' || c == '&' || (c == '\n' && !document) || c == '`') {
      sep = true;
      while (next < n && (s[next] == '|' || s[next] == '&')) {
        ++next;
      }
    } else if ((c == '$' || c == '<' || c == '>') && i + 1 < n && s[i + 1] == '(') {
      sep = true;
      next = i + 2;
      while (next < n && s[next] == '(') {
        ++next; // $(( ... ))
      }
    }
    if (sep && commandAt(s, next, true, ifs) && !pipedIntoProse(s, next)) {
      return 4001;
    }
    if (sep && c != '\n') {
      // Any word with an option after a separator: "; c89 -wrapper", "| lastlogin -u x".
      size_t k = next;
      while (k < n && s[k] == ' ') {
        ++k;
      }
      const size_t w = k;
      while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') ||
                       s[k] == '_' || s[k] == '.' || s[k] == '/')) {
        ++k;
      }
      // ("TL;DR -- use ..." is prose: a long option has its name right after the dashes)
      // The word is a command name (a letter, then at least one more name character) and the
      // option or path is a whole word: "&zgl -g&9", "|oi /i]x" are random text.
      size_t f = w;
      while (f < k && s[f] == '.') {
        ++f; // ".wget /tmp/x": dots standing for blanks
      }
      const bool named = k >= f + 2 && s[f] >= 'a' && s[f] <= 'z';
      const auto wordEnds = [&](size_t e, std::string_view also) {
        while (e < n && ((s[e] >= 'a' && s[e] <= 'z') || (s[e] >= '0' && s[e] <= '9') ||
                         s[e] == '_' || s[e] == '-' || s[e] == '.' || s[e] == '/')) {
          ++e;
        }
        return e >= n || isSpace(s[e]) || also.find(s[e]) != std::string_view::npos;
      };
      if (named && k + 2 < n && s[k] == ' ' && s[k + 1] == '-' &&
          ((s[k + 2] >= 'a' && s[k + 2] <= 'z') ||
           (s[k + 2] == '-' && k + 3 < n && s[k + 3] >= 'a' && s[k + 3] <= 'z')) &&
          wordEnds(k + 2, "=:")) {
        return 4004;
      }
      // A word whose argument is an absolute path or a home file: "; fold /etc/passwd".
      if (named && k + 2 < n && s[k] == ' ' &&
          ((s[k + 1] == '/' && s[k + 2] >= 'a' && s[k + 2] <= 'z') ||
           (s[k + 1] == '~' && s[k + 2] == '/')) &&
          wordEnds(k + 2, ";|&\"")) {
        return 4005;
      }
    }
  }
  if (const uint32_t r = toolLine(s); r != 0) {
    return r;
  }
  if (addressThenCommand(s)) {
    return 4001;
  }
  if (commandAt(s, 0, false)) {
    return 4002;
  }
  // A command opening the value with an option spliced with quotes to hide it ("kill '-'9").
  if (quoteSpliced(low)) {
    size_t e = 0;
    while (e < s.size() && isWord(s[e])) {
      ++e;
    }
    if (e > 0 && findCommand(s.substr(0, e)) != nullptr && e + 2 < s.size() && s[e] == ' ' &&
        s[e + 1] == '-' && s[e + 2] != '-' && !isSpace(s[e + 2])) {
      return 4002;
    }
  }
  // Command-like value with a path to a system binary anywhere: /bin/sh -c, /usr/bin/id
  for (const std::string_view dir :
       {"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "system32/"}) {
    size_t pos = 0;
    while ((pos = s.find(dir, pos)) != std::string::npos) {
      if (commandAt(s, pos, false)) {
        return 4003;
      }
      pos += dir.size();
    }
  }
  return 0;
}

} // namespace bulwark::detect::internal
