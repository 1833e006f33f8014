#include "rules.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

namespace bulwark::detect::internal {
namespace {

using C = AttackClass;

// A string literal as a template argument.
template <size_t N>
struct Lit {
  char s[N]{};
  constexpr Lit(const char (&text)[N]) { std::copy_n(text, N, s); } // NOLINT: implicit on purpose
};

// The concatenation of literals, made by the compiler and stored once (NUL-terminated).
template <Lit... parts>
inline constexpr auto kJoined = [] {
  std::array<char, (1 + ... + (sizeof(parts.s) - 1))> out{};
  size_t at = 0;
  ((std::copy_n(parts.s, sizeof(parts.s) - 1, out.begin() + at), at += sizeof(parts.s) - 1), ...);
  return out;
}();

// A pattern composed of literals and word lists: join<R"re(\b(?:)re", kList, R"re()\()re">().
template <Lit... parts>
constexpr std::string_view join() {
  return {kJoined<parts...>.data(), kJoined<parts...>.size() - 1};
}

// Word lists that more than one pattern names, defined once; a pattern composes them with join
// (the alternation goes inside the pattern's own group).
// MongoDB query operators (after a '$')
constexpr Lit kMongoOperators =
    "ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|not|nor|expr|elemmatch";
// cmd.exe IF comparison operators
constexpr Lit kCmdComparisons = "equ|neq|lss|leq|gtr|geq";
// PHP functions that run a command or code given as a string
constexpr Lit kPhpExecFunctions = "system|exec|passthru|shell_exec|eval|assert|popen";
// PHP functions a probe calls with at most one simple argument (is_array(), strrev($x))
constexpr Lit kPhpFunctions =
    "is_array|is_string|is_numeric|is_file|is_dir|is_readable|is_writable|strrev|strlen|"
    "substr|str_replace|str_repeat|strtolower|strtoupper|strip_tags|sprintf|printf|print|"
    "intval|floatval|unpack|pack|file_exists|file|fopen|fread|fgets|filegroup|fileowner|"
    "fileperms|filesize|filetype|unlink|rmdir|mkdir|rename|copy|tempnam|tmpfile|glob|scandir|"
    "opendir|readdir|chdir|getcwd|assert_options|call_user_func|func_get_args|array_diff|"
    "array_merge|array_keys|implode|explode|json_decode|serialize|unserialize|md5|sha1|crc32|"
    "base64_encode|base64_decode|urldecode|gethostbyname|gethostbynamel|getenv|putenv|"
    "get_current_user|getmypid|getmyuid|phpversion|php_uname|sys_get_temp_dir|ini_get|"
    "ini_set|set_time_limit|usleep|exec|system|shell_exec|passthru|popen|eval|assert|"
    "date_add|mktime|checkdate|strtotime|microtime|uniqid|mt_rand|compact|extract|define|"
    "constant|class_exists|function_exists|get_class|gettype|settype|var_export|var_dump|"
    "print_r|debug_zval_dump|error_reporting|setcookie|mail|ldap_get_entries|ldap_connect|"
    "ldap_search|pg_connect|pg_query|mysql_query|mysqli_query|odbc_exec|tidy_parse_string|"
    "preg_match|preg_replace|bin2hex|hex2bin|highlight_string|stripslashes|addslashes|"
    "phpinfo|readfile|show_source|file_get_contents|file_put_contents|fsockopen|proc_open|"
    "pcntl_exec|dl|ob_start|header";

// Rule ids: 1xxx sqli, 2xxx xss, 3xxx path traversal, 4xxx rce, 5xxx code injection, 6xxx ssti,
// 7xxx ssrf, 8xxx xxe, 9xxx nosqli, 10xxx ldapi, 11xxx log4shell, 12xxx crlf, 13xxx protocol,
// 14xxx scanner. Code detectors (detectors.h) own the ids not listed here.
// Patterns describe attack techniques (syntax, semantics, well-known targets), matched on the
// decoded, lower-cased value; vectorscan runs them all in one pass (no backtracking).
// A row ends with Reach::Plain when its pattern can match a value of letters, digits, spaces and
// "-_,@" only (see Reach in rules.h): such values are scanned with those rules alone.
constexpr std::array kRules = std::to_array<PatternRule>({
    // --- path traversal / local file inclusion
    {3001, C::PathTraversal, kAll,
     R"re((?:^|[\\/;=:'"])\.{2,}[\\/]+\.{2,}[\\/]|^\.{2,}[\\/]|[\\/]\.{2,}[\\/]|\.\.;)re"},
    {3002, C::PathTraversal, kAll, R"re([\\/]\.\.(?:[;%?]|$))re"},
    {3003, C::PathTraversal, kAll,
     R"re((?:^|[\\/])etc[\\/]+(?:passwd|shadow|group|gshadow|hosts|issue|motd|crontab|sudoers|fstab|hostname|resolv\.conf|profile|bashrc|environment|inittab|master\.passwd|security[\\/]|ssh[\\/]|mysql[\\/]|apache2?[\\/]|httpd[\\/]|nginx[\\/]|php\d?[\\/]|ssl[\\/]|letsencrypt[\\/]|os-release|lsb-release|redhat-release|debian_version|network[\\/]|sysconfig[\\/]|init\.d[\\/]|cron|aliases|exports|ld\.so|pam\.d|shells|my\.cnf|vsftpd|proftpd|samba[\\/]|kubernetes[\\/]|docker[\\/]|rc\.(?:local|d)))re"},
    {3004, C::PathTraversal, kAll,
     R"re((?:^|[\\/])proc[\\/]+(?:self|\d+|thread-self)[\\/]+(?:environ|cmdline|fd|maps|status|mem|cwd|exe|root|mounts|stat|attr|auxv|loginuid))re"},
    {3005, C::PathTraversal, kAll,
     R"re((?:^|[\\/])proc[\\/]+(?:version|cpuinfo|meminfo|mounts|net[\\/]|sched_debug|kcore|partitions|modules|config\.gz))re"},
    {3006, C::PathTraversal, kAll,
     R"re((?:^|[\\/])(?:\.ssh[\\/]+(?:id_[a-z0-9]+|authorized_keys|known_hosts)|id_(?:rsa|dsa|ecdsa|ed25519)(?:\.pub)?$|\.bash_history|\.zsh_history|\.mysql_history|\.htpasswd|\.aws[\\/]+credentials|\.docker[\\/]+config\.json|\.kube[\\/]+config|\.git[\\/]+(?:config|head|index|logs)|\.netrc|\.pgpass))re"},
    {3007, C::PathTraversal, kAll,
     R"re((?:^|[\\/])(?:win\.ini|boot\.ini|system\.ini|autoexec\.bat|windows[\\/]+(?:system32|win\.ini|repair|panther)|winnt[\\/]|inetpub[\\/]|(?:system32|syswow64)[\\/]+(?:config|drivers|inetsrv)|web-inf[\\/]+(?:web\.xml|classes|lib)|meta-inf[\\/]+(?:manifest|context)))re"},
    {3008, C::PathTraversal, kAll,
     R"re((?:^|[\\/])var[\\/]+(?:log[\\/]+(?:apache|httpd|nginx|auth|syslog|messages|secure|mail|wtmp|lastlog)|run[\\/]+secrets|lib[\\/]+(?:mysql|docker|kubelet)|mail[\\/]|spool[\\/]))re"},
    {3009, C::PathTraversal, kArg,
     R"re(^(?:[a-z]:)?[\\/]+(?:etc|proc|root|sys|boot|dev|var|usr|bin|sbin|home|tmp|opt|windows|winnt|inetpub)(?:[\\/]|$))re"},
    {3010, C::PathTraversal, kArg | kHeader | kName, R"re(^file:)re"},
    {3011, C::PathTraversal, kAll,
     R"re((?:^|[\\/])(?:wp-config\.php|config\.inc\.php|configuration\.php|localsettings\.php|settings\.php|database\.yml|secrets\.ya?ml|credentials\.(?:xml|json)|appsettings\.json|web\.config|applicationhost\.config|\.env(?:\.[a-z]+)?$|\.htaccess))re"},
    // Traversal with separators no decoder understands (%bg%qf, %uf025, 0x2f...): two dot-dot
    // steps in a row, or a well-known target spelled with junk separators.
    {3013, C::PathTraversal, kAll,
     R"re(\.\.(?:%[0-9a-z]{2}|%u[0-9a-z]{4}|[^a-z0-9.\s%]){1,8}\.\.(?:%[0-9a-z]{2}|%u[0-9a-z]{4}|[^a-z0-9.\s%]){1,8})re"},
    {3014, C::PathTraversal, kAll,
     R"re((?:etc(?:%[0-9a-z]{2}|%u[0-9a-z]{4}|[^a-z0-9\s]){1,8}(?:passwd|shadow|issue|hosts|group|motd)\b|(?:boot|win|system)\.ini\b|system32(?:%[0-9a-z]{2}|%u[0-9a-z]{4}|[^a-z0-9\s]){1,8}(?:drivers|config|cmd\.exe)))re"},

    // --- OS command injection (beyond the shell tokenizer)
    {4010, C::Rce, kAll, R"re(\(\s*\)\s*\{[^}]{0,60};\s*\}\s*;)re"}, // shellshock
    {4011, C::Rce, kAll, R"re(/dev/(?:tcp|udp)/)re"},
    {4012,
     C::Rce, kValues, R"re((?:^|[\s;&|`(])(?:cmd(?:\.exe)?\s*/[ckr]\s|powershell(?:\.exe)?\s+(?:-[a-z]|iex|invoke)|iex\s*\(|invoke-(?:expression|webrequest|command)|net\s+(?:user|localgroup|view|share|use)(?:\s|$)|start-process|downloadstring|-encodedcommand|\[system\.))re"},
    {4013, C::Rce, kValues, R"re((?:^|[\s;&|`(])(?:bash|sh|zsh|ksh|dash)\s+-[a-z]*[ci]\b)re", Reach::Plain},
    {4014, C::Rce, kValues,
     R"re((?:^|[;&|`]\s*)(?:/[a-z]+)*/(?:\?+[/?*a-z]*|\*[/?*a-z]*[a-z?][/?*a-z]*)(?:\s|$))re"}, // /???/??t (not "/*")
    {4015, C::Rce, kValues,
     R"re(\$\(\s*(?:printf|echo|cat|id|whoami|uname|curl|wget|sleep|ls|nslookup|ping)\b)re"},
    {4016, C::Rce, kValues,
     R"re(\b(?:nc|ncat|netcat)(?:\.exe)?\s+(?:-[a-z]*\s+)*(?:-[a-z]*[ec]\s|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\s+\d+))re"},
    {4019, C::Rce, kValues,
     join<R"re(\bfor\s+(?:/[a-z]\s+)*(?:[^\s]+\s+){0,3}%%?\S{1,20}\s+in\s*\(.{0,200}\)\s*do\b|\bif\s+(?:/i\s+)?(?:not\s+)?(?:exist|defined|errorlevel)\s|\bif\s+(?:/i\s+)?(?:not\s+)?(?:"[^"]{0,64}"|%[^\s%]{1,32}%)\s*(?:==|\s(?:)re", kCmdComparisons,
          R"re()\s)\s*\S+\s+[a-z]|%errorlevel%)re">(), Reach::Plain},
    {4020, C::Rce, kArg | kName,
     R"re(^['"]?(?:[a-z0-9_.-]+/)*[a-z][a-z0-9_.-]{1,20}['"]?\s+(?:(?:-{1,2}[a-z][a-z0-9=_-]*\s+)+(?:/|~/|\$)|(?:-{1,2}[a-z][a-z0-9=_-]*\s+)*(?:/(?:etc|var|usr|bin|sbin|tmp|proc|dev|home|root|opt|lib|srv|run)(?:/|\s|$)|~/)))re", Reach::Plain},
    {4021, C::Rce, kValues,
     R"re(\$\(\(\s*-?\d+\s*[-+*/%]\s*-?\d+\s*\)\)|\$\[\s*\d+\s*[-+*/]\s*\d+\s*\])re"},
    {4022, C::Rce, kValues, R"re(\(\)\s*\{[^}]{0,20}\|[^}]{0,20}&\s*\})re"}, // fork bomb
    // The whole value is a download command (wget/curl fetching a URL): what an injected
    // command fetches a second stage with (mac=wget http://x/a.sh).
    {4053, C::Rce, kArg,
     R"re(^\s*(?:wget|curl|fetch|lwp-download|busybox\s+wget)\s+(?:-{1,2}[a-z][a-z-]*\s+(?:[^\s-]\S*\s+)?)*['"]?(?:https?|ftp)://[^\s'"]+['"]?\s*(?:$|[|;&>]))re"},
    {4023, C::Rce, kValues,
     R"re(\b(?:whoami|ifconfig|ipconfig\s*/all|systeminfo|tasklist\s*/|netstat\s+-[a-z]+|uname\s+-[a-z]+|cat\s+/etc/[a-z]))re", Reach::Plain},
    {4018, C::Rce, kValues,
     R"re((?:^|[;&|`\s])(?:rm\s+-[a-z]*[rf]|chmod\s+[+0-7]|mkfifo\s|/bin/(?:sh|bash)\b|xterm\s+-display))re"},

    // --- code injection: PHP, Java, JavaScript/Node, Python, SSI
    {5001, C::CodeInjection, kValues | kFile,
     R"re(<\?(?:php|=(?:[^<>]|<<<|$))|<\?\s+(?:echo|system|eval|print|\$))re"},
    {5002, C::CodeInjection, kValues,
     R"re(\b(?:shell_exec|passthru|popen|proc_open|pcntl_exec|assert|create_function|call_user_func(?:_array)?|file_get_contents|file_put_contents|readfile|show_source|highlight_file|phpinfo|base64_decode|gzinflate|gzuncompress|str_rot13|unserialize|move_uploaded_file|fsockopen|curl_exec|putenv|ini_set|preg_replace|array_map|array_filter|usort|register_shutdown_function|get_defined_vars|posix_\w+|simplexml_load_string|var_dump|print_r|fputs|fwrite|fopen|symlink|chmod|stream_get_contents)\s*\()re"},
    {5003, C::CodeInjection, kValues | kFile,
     R"re((?:\b(?:(?:system|exec|eval)(?:\s*\(|\s)|include|require|include_once|require_once)\s*\(?\s*\\?['"$`]|['"]\s*\.\s*[a-z_][a-z0-9_]*\([^()'"]{0,64}\)\s*\.\s*['"]|['"](?:system|exec|passthru|shell_exec|popen|proc_open|assert)['"]\s*[\])]*\s*(?:\[\s*\d+\s*\]\s*)?\(|\$_(?:get|post|request|cookie|server|files|env|session)\b|\$globals\b|\$\{\s*['"]?_[^_]))re"},
    {5004, C::CodeInjection, kValues,
     R"re(\b(?:php|phar|zip|expect|glob|zlib|compress\.zlib|compress\.bzip2|ssh2\.[a-z]+|rar|ogg)://)re"},
    {5005, C::CodeInjection, kValues,
     R"re((?:^|[;{"'])[oc]:\d+:"[a-z_\\][a-z0-9_\\]*":\d+:\{|^a:\d+:\{[si]:\d)re"},
    {5006, C::CodeInjection, kValues,
     R"re((?:java\.lang\.(?:runtime|processbuilder|system|class|reflect|thread|classloader|process)|getruntime\s*\(|processbuilder\s*\(|class\.forname|\.forname\s*\(|javax\.script|scriptenginemanager|java\.io\.(?:file|objectinputstream)|java\.net\.(?:url|socket)|org\.apache\.commons\.collections|com\.sun\.|sun\.misc\.|java\.util\.(?:scanner|base64)|\.getclass\s*\(\s*\)|\.getmethod\s*\(|\.invoke\s*\(|\.newinstance\s*\(|\bnew\s+java\.|@java\.|#_memberaccess|#context\[|#request\[|#response\b|ognl(?:context|util)|\(#[a-z_]+=|xwork2\.|%\{\s*\(?#|\$\{\s*#))re"},
    {5007, C::CodeInjection, kAll, R"re(\bro0ab|\baced0005|h4siaaaaaaaa)re"},
    // Groovy runs a string as a command line: 'id'.execute(), "ls -la".execute().text, and
    // the whole value naming PHP's own information page, which a callback parameter calls.
    {5056, C::CodeInjection, kValues,
     R"re(['"][^'"\r\n]{1,200}['"]\s*\.\s*execute\s*\(\s*\)|^\s*(?:phpinfo|phpcredits)\s*$)re", Reach::Plain},
    // .NET deserialization gadgets (ysoserial.net): the types a Json.NET "$type", a
    // JavaScriptSerializer "__type", XAML or a DataContract payload names to run a process or
    // load code, and the BinaryFormatter stream header in base64.
    {5055, C::CodeInjection, kValues | kName | kFile,
     R"re(system\.windows\.data\.objectdataprovider|system\.windows\.markup\.xamlreader|system\.data\.services\.internal\.expandedwrapper|system\.delegateserializationholder|textformattingrunproperties|system\.configuration\.install\.assemblyinstaller|system\.activities\.presentation\.workflowdesigner|system\.identitymodel\.tokens\.sessionsecuritytoken|system\.windows\.resourcedictionary|system\.collections\.generic\.sortedset`1\[\[system\.string|\baaeaaad/////)re"},
    {5008, C::CodeInjection, kValues,
     R"re((?:require\s*\(\s*['"`](?:child_process|fs|net|os|vm|http)['"`]|child_process|process\.(?:mainmodule|binding|env|kill|exit)|\b(?:process|global|globalthis|module)\s*\[\s*['"`]?\s*(?:mainmodule|binding|dlopen|require|constructor|process)\b|constructor\s*\.\s*constructor|constructor\s*\[\s*['"]constructor|\bfunction\s*\(\s*\)\s*\{\s*return\s+(?:this|process|global)|global\.process|\.exec(?:sync)?\s*\(\s*['"`]|settimeout\s*\(\s*['"`]|\bthis\.constructor))re"},
    {5009, C::CodeInjection, kAll,
     R"re((?:^|[^a-z0-9_])__proto__(?:[^a-z0-9_]|$)|\bconstructor\.prototype\b|\[\s*['"]?__proto__)re", Reach::Plain},
    {5010, C::CodeInjection, kAll | kFile,
     R"re(<!--\s*#\s*(?:exec|include|echo|config|set|printenv|fsize|flastmod|if|elif)\b|<esi:(?:include|inline|vars|eval|assign|choose|when|try|attempt|debug|remove|comment)\b|<!--esi\b)re"},
    {5011, C::CodeInjection, kValues,
     R"re((?:__import__\s*\(|__class__|__globals__|__builtins__|__subclasses__|__mro__|__bases__|__getattribute__|\bos\.(?:system|popen|exec[a-z]*|spawn[a-z]*)\s*\(|subprocess\.(?:call|popen|run|check_output)|pickle\.loads|\bimport\s+os\b|\bcompile\s*\(\s*['"]))re"},
    {5012, C::CodeInjection, kValues | kPath,
     R"re(\beval\s*\(\s*(?:base64|gzinflate|str_rot13|atob|unescape|\$_|request|string\.fromcharcode|document|window|location|name\b|escape))re"},
    {5014, C::CodeInjection, kValues,
     R"re((?:^|[^a-z0-9_.])(?:java|javax|jdk|sun|com\.sun|org\.apache|org\.springframework|org\.codehaus|com\.opensymphony|org\.hibernate|org\.mozilla|bsh|groovy|com\.mchange|org\.jboss|weblogic|com\.bea|com\.ibm\.ws|org\.python|clojure|com\.alibaba|com\.fasterxml|org\.yaml|ognl|freemarker|org\.thymeleaf|org\.jndi|javassist|net\.sf\.json|org\.omg|com\.thoughtworks|org\.jruby|java\.beans|java\.rmi|javax\.naming|javax\.management|org\.mvel2|org\.eclipse\.jetty|org\.apache\.xalan|com\.caucho)\.[a-z0-9_$]+)re"},
    {5015, C::CodeInjection, kAll,
     R"re((?:invokertransformer|clonetransformer|instantiatetransformer|instantiatefactory|chainedtransformer|constanttransformer|prototypeclonefactory|prototypeserializationfactory|whileclosure|forclosure|templatesimpl|annotationinvocationhandler|badattributevalueexpexception|xmldecoder|jdbcrowsetimpl|lazymap|transformedmap|beancomparator|processbuilder|runtime\.getruntime|runtime\.exec|getruntime))re", Reach::Plain},
    {5016, C::CodeInjection, kValues,
     R"re((?:^|[^a-z0-9_\\])\$+[a-z_][a-z0-9_]*(?:\s*\[[^\]]{0,24}\])*\s*\((?:[^()]{0,64}|[^()]{0,32}\([^()]{0,32}\)[^()]{0,32})\)\s*(?:$|[;.,)?])|\$\{\s*['"][a-z_]+['"]\s*\}\s*\()re"},
    {5017, C::CodeInjection, kValues, R"re(\bro0ab|kztaa|cs7qa[ef]|\baced000[0-9]|\bh4sib)re", Reach::Plain},
    {5018, C::CodeInjection, kValues,
     R"re(\$\{\s*@?(?:exec|system|eval|print|passthru|shell_exec|phpinfo|assert|popen|die|md5)\s*\()re"},
    {5019, C::CodeInjection, kValues,
     R"re(_\$\$nd_func\$\$_|\bnew\s+function\s*\(|\bfunction\s*\(\s*\)\s*\{|__js_function|\bwhile\s*\(\s*(?:!|true\s*\)|1\s*\)))re", Reach::Plain},
    {5020, C::CodeInjection, kFilename,
     R"re(\.\s*(?:php\d*|phpt|phtml|phar|pht|phps|pgif|shtml|jsp|jspx|asp|aspx|asa|cer|cgi|pl|py|sh|exe|htaccess)[\s.]*$)re"},
    {1017, C::Sqli, kValues | kPath,
     R"re((?:^|[^a-z0-9_.$])(?:unhex|hex|compress|uncompress|coalesce|nullif|ifnull|isnull|concat|concat_ws|group_concat|char|chr|ascii|ord|substring|substr|mid|conv|cast|convert|version|database|schema|current_user|system_user|session_user|sleep|benchmark|load_file|extractvalue|updatexml|md5|sha1|sha2|instr|locate|elt|find_in_set|make_set|json_extract|pg_sleep|to_char|sys_context|rawtohex|hextoraw|row_count|found_rows|last_insert_id|connection_id|db_name|object_id|col_name|is_srvrolemember|openquery|openrowset|unicode|nchar|quotename|char_length|bit_length|octet_length|soundex|patindex|charindex|user_name|suser_name|host_name|current_database|pg_read_file|lo_import|json_keys|name_const|lo_get|starts_with|json_search|json_array|json_object|pg_ls_dir|pg_read_binary_file|utl_inaddr|xmltype)\()re"},
    {2007, C::Xss, kValues,
     R"re(\b(?:document\s*\??\.\s*(?:cookie|domain|location|write|writeln|queryselector(?:all)?|getelementsby[a-z]+|getelementbyid|body|forms|referrer|documentelement)|window\s*\.\s*(?:location|open|name|eval|settimeout|atob)|location\s*\.\s*(?:href|hash|replace|assign|search)|\.(?:inner|outer)html\s*=|localstorage\s*\.|sessionstorage\s*\.|top\s*\[\s*['"`]))re"},
    {2008, C::Xss, kValues, R"re((?:^|[\s"'`;])on[a-z]{3,40}\s*=\s*(?:[^{\s]|$))re"},
    {2009, C::Xss, kValues,
     R"re(url\s*\(\s*['"]?\s*(?:java|vb|live)script|-moz-binding|\bexpression\s*\(|\bbehavior\s*:\s*url|@import\s+['"]?\s*(?:java|vb)script)re"},
    {1019, C::Sqli, kValues | kPath,
     R"re((?:information_schema|pg_catalog|sysobjects|syscolumns|sqlite_master|msysobjects|msysaccessobjects|pg_shadow|mysql\.user|master\.\.sysdatabases|sys\.(?:objects|tables|columns|databases|sql_logins)|all_tab_columns|user_tab_columns|dba_users))re", Reach::Plain},
    {5021, C::CodeInjection, kValues,
     R"re(\)\s*\(\s*['"][^'"]{1,60}['"]\s*\)|['"]\s*\.\s*['"][a-z_]{1,20}['"]\s*\(\s*['"])re"},
    {5022, C::CodeInjection, kFilename, R"re((?:^|[/\\])sess_[a-z0-9,-]{16,})re"},
    {5023, C::CodeInjection, kValues, R"re(@\{\s*\[|\$\{\s*\\?\[)re"},
    {7007, C::Ssrf, kArg,
     R"re(^\s*(?:localhost(?:\.localdomain)?|localhost[46]|ip6-localhost|ip6-loopback|127\.0\.0\.1|0\.0\.0\.0|\[::1?\])(?:[:/]|$))re"},
    {2010, C::Xss, kValues,
     R"re(\b(?:window|self|top|this|parent|frames|globalthis|document)\s*\[\s*['"`][a-z_$][a-z0-9_$]*['"`]\s*\]\s*(?:\(|\[\s*['"`](?:cookie|domain|location)))re"},
    {5013, C::CodeInjection, kValues,
     R"re(\b(?:wscript\.shell|scripting\.filesystemobject|createobject\s*\(|server\.execute|response\.write\s*\())re"},

    // --- server-side template injection
    {6001, C::Ssti, kValues | kPath,
     R"re(\{\{[^}]{0,80}(?:\d['"]?\s*[*+/-]\s*['"]?\d|config|self\b|request|\.__|\bclass\b|mro|subclasses|globals|builtins|import|popen|lipsum|cycler|joiner|namespace\s*\(|range\s*\(|constructor|_self|\benv\s*[.\[(]|getfilter|registerundefinedfiltercallback|\|\s*(?:attr|safe|e)\b|\|\s*(?:filter|map|sort|reduce)\s*\(\s*['"]|\[\s*['"]_))re"},
    {6002, C::Ssti, kValues | kPath, R"re((?:\$|#|\*|@|~)\{\s*\d+\s*[*+/-]\s*\d+\s*\})re"},
    // A wiki's script macro with its body (XWiki {{groovy}}...{{/groovy}}, {{python}},
    // {{velocity}}, {{script language=...}}): the page renderer runs the body on the server. (A
    // lone "{{script}}" is a placeholder of a command reference.)
    {6005, C::Ssti, kValues | kPath,
     R"re(\{\{\s*groovy\b[^}]{0,200}\}\}[^\x00]*\{\{\s*/\s*groovy\s*\}\}|\{\{\s*python\b[^}]{0,200}\}\}[^\x00]*\{\{\s*/\s*python\s*\}\}|\{\{\s*ruby\b[^}]{0,200}\}\}[^\x00]*\{\{\s*/\s*ruby\s*\}\}|\{\{\s*php\b[^}]{0,200}\}\}[^\x00]*\{\{\s*/\s*php\s*\}\}|\{\{\s*script\s+language\s*=[^}]{0,200}\}\})re"},
    {6003, C::Ssti, kValues | kPath,
     R"re(\$\{[^}]{0,80}(?:t\s*\(\s*java|getclass|class\.forname|runtime|\.exec\s*\(|freemarker|objectconstructor|product\.getclass|\.getresource))re"},
    {6004, C::Ssti, kValues | kPath,
     R"re((?:<#assign|<#import|\?new\s*\(\s*\)|\{%[^%]{0,80}(?:import|popen|system|os\.|__|include|debug)|\{php\}|\{system\(|#set\s*\(\s*\$|#foreach\s*\(|\[\[\s*\$\{|__\$\{|@\(\s*\d+\s*[*+/-]\s*\d+\s*\)|\{\$smarty\.|\{\{=[^}]{1,80}\}\}|<%=?\s*[^%]{0,80}(?:system|exec|`[^`%]{1,40}`|runtime|7\s*\*\s*7|file\.|class|request|process|require)))re"},

    // --- SSRF / remote file inclusion
    {7001, C::Ssrf, kArg | kName,
     R"re((?:^\s*|[=@"'(<>,;|`]\s*|jar:)[a-z][a-z0-9+.-]{1,15}://(?:[^/@\s]*@)?\[?(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|0+(?:[:/]|$)|10\.\d+\.\d+\.\d+|192\.168\.\d|172\.(?:1[6-9]|2\d|3[01])\.\d|169\.254\.\d|::1?\]|::ffff:|0:0:0:0|fe80:|fd[0-9a-f]{2}:|0x[0-9a-f]+|\d{8,10}(?:[:/]|$)|0\d+\.|\d+\.\d+(?:[:/]|$)|metadata|instance-data|100\.100\.100\.200|[a-z0-9.-]*\.(?:internal|local|localhost|svc|cluster\.local)(?:[:/]|$)|kubernetes\.default|[a-z0-9.-]*(?:nip|xip|sslip)\.io|localtest\.me|[a-z0-9.-]*\.burpcollaborator\.net|[a-z0-9.-]*\.oast\.[a-z]+))re"},
    // A UNC path as the request path ("/\\\\host\\share", "/%5c%5chost%5cC$"): a Windows server or a
    // rewrite rule that maps the path to a file opens a share on that host (NTLM leak, SSRF).
    {7025, C::Ssrf, kPath, R"re(^/*\\\\[a-z0-9][a-z0-9.-]*[\\/])re"},
    {7002, C::Ssrf, kValues,
     R"re((?:169\.254\.169\.254|metadata\.google\.internal|/latest/(?:meta-data|user-data|api/token)|/computemetadata/v1|/metadata/(?:instance|identity)|100\.100\.100\.200|fd00:ec2::254|/openstack/latest))re"},
    {7003, C::Ssrf, kArg | kName,
     R"re(^(?:url:)?(?:gopher|dict|ldaps?|tftp|jar|netdoc|sftp|smb|expect|rmi|iiop|corba|local_file|file):)re"},
    {7004, C::Ssrf, kArg,
     R"re(^(?:https?|ftps?)://(?:[^/@\s]*@)?\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?:[:/?#]|$))re"},
    // a URL whose host is an address in integer, hex or octal form right after the scheme
    // (`http:2852039166`, `http:/0xa9fea9fe`: URL parsers accept a missing '//'), or an octal
    // integer after '//' (rtmp://017700000001)
    {7008, C::Ssrf, kArg,
     R"re(^(?:https?|ftps?|rtmps?|wss?|gopher|dict|ldaps?|tftp|sftp|smb):(?:/?(?:\d{8,10}|0x[0-9a-f]{6,8}|localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|0\.0\.0\.0|169\.254\.\d{1,3}\.\d{1,3}|0[0-7]{1,3}\.[0-7]{1,4}\.[0-7]{1,4}\.[0-7]{1,4}|0[0-7]{9,11})|//0[0-7]{9,11})(?:[:/?#]|$))re"},
    {7005, C::Ssrf, kArg, R"re(^(?:https?|ftps?)://[^\s?#]+\?+$|^(?:https?|ftps?|file)\?+$)re"},
    {7006, C::Ssrf, kArg,
     R"re(^(?:https?|ftps?)://[^\s]*(?:\.(?:txt|php|phtml|sh|pl|py|asp|aspx|jsp|cgi|inc|gif|jpg)\?|/(?:shell|cmd|c99|r57|webshell|backdoor)[^/\s]*))re"},

    // --- XML external entities
    {8001, C::Xxe, kAll | kFile, R"re(<!entity)re"},
    {8002, C::Xxe, kAll | kFile, R"re(<!doctype[^>\[]*(?:\[|\s(?:system|public)\s))re"},
    {8003, C::Xxe, kValues,
     R"re((?:xmlns:xi\s*=|<xi:include|\bxinclude\b|<xsl:(?:value-of|copy-of)[^>]*(?:system-property|document\s*\()))re"},

    // --- NoSQL injection
    {9001, C::Nosqli, kName,
     join<R"re((?:\[|^|\.)\$(?:)re", kMongoOperators,
          R"re(|size|type|mod|all|text|search|function|accumulator|lookup)(?:\]|$|\.))re">()},
    {9002, C::Nosqli, kValues | kPath,
     join<R"re((?:(?:\{|['"]\s*,)\s*['"]?\$(?:)re", kMongoOperators,
          R"re(|function)['"]?\s*:|^\s*\|\|\s*['"]?\w+['"]?\s*===?\s*['"]?\w|\$where\s*[:=]\s*(?:['"`{(\d]|function|this|sleep|return)|\bdb\.[a-z_]+\.(?:find|findone|insert|update|remove|drop|aggregate)\s*\(|\bthis\.[a-z_]+\.match\s*\(|['"]\s*;\s*return\s+(?:true|this|1|db)\b|['"]\s*\|\|\s*['"]?\w*['"]?\s*==\s*['"]?\w|\bsleep\s*\(\s*\d+\s*\)\s*;?\s*['"]?\s*\}|\bmapreduce\s*\())re">()},

    // --- Log4Shell (the lookup evaluator in log4j.cpp catches the obfuscated forms)
    {11004, C::Log4shell, kAll | kFile,
     R"re(\bjndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|http)\s*:)re"},

    // --- CRLF / header injection and response splitting
    {12001, C::Crlf, kPath | kArg | kName | kHeader,
     R"re([\r\n]\s*(?:set-cookie2?|location|content-(?:type|length|disposition|security-policy)|refresh|x-[a-z-]+|transfer-encoding|access-control-allow-[a-z-]+|cache-control|link|status|www-authenticate|strict-transport-security)\s*:)re"},
    {12002, C::Crlf, kPath | kArg | kName | kHeader, R"re([\r\n]\s*http/\d(?:\.\d)?\s+\d{3})re"},
    {12003, C::Crlf, kPath | kName | kHeader, R"re([\r\n][a-z0-9-]{2,40}\s*:\s*\S)re"},

    {12004, C::Crlf, kPath | kName, R"re([\r\n])re"},
    // a line break hidden in a nested escape: "%%0a0aSet-Cookie:" is "%" "%0a" "0a"; a filter
    // that strips (or decodes) the inner escape leaves "%0a", which the application decodes
    {12006, C::Crlf, kPath | kArg | kName | kHeader,
     R"re(%[\r\n]+(?:0[ad])+\s*[a-z][a-z0-9-]{1,40}\s*:)re"},
    {12005, C::Crlf, kArg | kHeader, R"re([\r\n]+[a-z0-9_.\[\]-]{1,40}=)re"},

    // --- protocol abuse carried in values
    {13006, C::Protocol, kArg | kName,
     R"re((?:^|[\r\n]|[a-z0-9])(?:get|post|head|put|delete|options|connect|trace|patch|propfind)\s+(?:/|https?://)[^\s]*\s+http/\d(?:\.\d)?\s*(?:[\r\n]|$))re"},
    {13008, C::Protocol, kArg | kName, R"re((?:^|[^a-z])unix:[^|\s]*\|)re"},
    // A dot segment left in the path ("/./RestAPI/", "/mifs/.;/services/"): every client
    // removes them, while a front filter and the application that do not normalise alike see
    // two different paths (the access check passes one, the router serves the other).
    {13016, C::Protocol, kPath, R"re(/\.(?:;[^/]*)?/)re"},
    // A server script with a path parameter that ends like a static file ("/admin/x.jsp;.js",
    // "/api/list.do;.css"): a filter that lets static files through without a login matches
    // the suffix, the servlet container strips ";..." and runs the script.
    {13011, C::Protocol, kPath,
     R"re(\.(?:jsp|jspx|do|action|php|aspx?|ashx|asmx|cfm|cgi)\b[^/?]*;[^/?=]*\.(?:js|css|png|jpe?g|gif|ico|svg|woff2?|html?|txt|map)(?:$|[?/;]))re"},
    // a format string handed to a C printf: four or more stack-reading conversions in a row
    // (strftime's %x/%p come with date fields between them)
    {13014, C::Protocol, kArg | kHeader | kAgent,
     R"re((?:%(?:\d+\$)?[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l)?[xpn][.:| ,]?){4,}|(?:%(?:\d+\$)?\d*[sxpn][.:| ,]?){3,}%(?:\d+\$)?\d*n)re"},

    // --- generalised technique rules (stacked SQL, shell obfuscation, JS/HTML tricks, URL
    // confusion); each describes a syntax shape, not a particular payload
    // stacked query: a value that opens with ';' and a SQL statement verb
    {1030, C::Sqli, kValues,
     R"re(^\s*['")]?\s*;\s*(?:drop|update|alter|insert|delete|truncate|create|exec(?:ute)?|declare|shutdown|grant|revoke)(?:\s+[a-z@#(`\[]|\s*/\*|\[))re"},
    // a quote break whose tail is commented out: x'|email--, a'or?--, '||true
    {1033, C::Sqli, kValues,
     R"re(['"`]\s*(?:[|&^<>=/%+*-]|mod\b|or\b|and\b|is\b|xor\b)[^'"`\r\n]{0,40}--\s*-?\s*$|['"`]\s*\|\|\s*(?:true|false|null|\d))re"},
    // PostgreSQL JSON operators on a JSON literal, casts on call results
    {1034, C::Sqli, kValues | kPath,
     R"re('[\[{][^']{0,200}[\]}]'\s*(?:->>?|#>>?|\?[|&]?|@>|<@|[<>]\s*'\$)|\)\s*::\s*(?:int|integer|int[248]|text|bool|boolean|bigint|numeric|double|varchar|char|bytea|regclass|oid)\b)re"},
    // dangerous stored procedures / packages / OLE DB providers
    {1035, C::Sqli, kValues,
     R"re(\b(?:xp_(?:cmdshell|dirtree|regread|regwrite|fileexist|servicecontrol|availablemedia|makecab|subdirs|fixeddrives|ntsec_enumdomains)|sp_(?:executesql|password|oacreate|oamethod|makewebtask|addextendedproc|configure|addlogin|addsrvrolemember)|utl_(?:http|inaddr|file|smtp|tcp)|dbms_(?:pipe|lock|xmlquery|java|scheduler)|openrowset|opendatasource|msdasql|sqloledb|pg_sleep)\b|\bexecute\s+immediate\s*['"])re", Reach::Plain},
    // statement terminated and commented: "drop t;--", "delete from users;--"
    {1036, C::Sqli, kValues,
     R"re(\b(?:delete\s+from|drop\s+(?:table\s+)?[a-z_][a-z0-9_.]*|insert\s+into|truncate\s+(?:table\s+)?[a-z_]+|update\s+[a-z_]+\s+set)\b[^;]{0,60};\s*(?:--|#))re"},
    // comment-spliced keywords and MySQL versioned comments: dr/**/op, drop/*x*/t, /*!50000select
    {1037, C::Sqli, kValues,
     R"re([a-z]/\*\*/[a-z]|\b(?:drop|select|union|insert|delete|update|from|where)\s*/\*[^*]{0,40}\*/\s*[a-z(]|/\*!(?:\d{4,5})?[a-z])re"},
    // xor as a boolean operator; scientific-notation splice 1.e(; hex-literal select
    {1038, C::Sqli, kValues,
     R"re((?:^|['"\s])xor\s+(?:\d+|'[^']*'|[a-z_]+)\s*(?:[<>=!-]|$)|\b\d+\.e\s*(?:\(|\.[a-z])|\bselect\s+0x[0-9a-f]{4,}|\)\s*when\s+\d+\s+then\b|\bhaving\s+\d+\s*[=<>])re", Reach::Plain},
    // MySQL user-variable assignment / subquery assigned in an expression
    {1031, C::Sqli, kValues,
     R"re((?:^|[;>\s])set\s+@@?[a-z_][a-z0-9_]*\s*(?::?=|$)|[=,]\s*\(\s*select\b|\bselect\s*\(\s*case\b)re"},
    // boolean continuation with a programming-style comparison: "|| x ==", "or a != "
    {1032, C::Sqli, kValues,
     R"re(^[\s'")/]{0,3}(?:or|and|\|\||&&)\s+[a-z_][a-z0-9_.]*\s*(?:==|!=|<>))re"},
    // quoted-identifier aliasing (` as `x` from), paren-wrapped LIKE, a value closed by quote+';'
    {1039, C::Sqli, kValues,
     R"re(`\s+as\s+`|\bas\s*['"`]\s+from\b|\)\s*(?:not\s+)?like\s*\(|(?:^[a-z0-9_.@ -]{0,64}|(?:[=(,]|\b(?:outfile|dumpfile|delay|time|like|escape|values|set|then|else|in|is|select|into|by|from|where|and|or|exec|execute))\s*(?:'[^']{0,100}|"[^"]{0,100}|`[^`]{0,100}))[a-z0-9]['"`]\s*(?:/\*[^*]{0,40}\*/\s*)?;\s*(?:--|#)?\s*$)re"},
    // empty command substitution / quote pairs / empty parameters ($@, $*; not $_, the last
    // argument) splicing a word: pi$()ng, pi``ng, ""p""y""t""h
    {4030, C::Rce, kValues,
     R"re([a-z](?:\$\(\s*\)|``|[<>]\(\s*\))(?:[a-z]|\s+[\d/$-])|[a-z]\$[@*][a-z/]|(?:\$\{?[a-z_][a-z0-9_]*\}?){3}|(?:""[a-z]){3}|(?:''[a-z]){3})re"},
    // bash brace expansion used as a command list: {id,}, {,echo,x}, {nc,-lvp,4444}
    {4031, C::Rce, kValues,
     R"re(\{,[a-z/?*$\\][^{}\s"':,]*,[^{}\s"':]*\}|\{[a-z/?*$\\][^{}\s"':,]*,(?:\}|[-/#][^{}\s"':]*\}))re"},
    // shellshock: a value that is a bash function definition
    {4032, C::Rce, kValues, R"re(^\s*\(\s*\)\s*\{)re"},
    // SMTP / IMAP command injection after a line break: SMTP envelope commands, a tagged IMAP
    // command line (a command without arguments ending its line, a FETCH/STORE/COPY sequence
    // set, LIST with a quoted reference)
    {4033, C::Rce, kArg | kHeader,
     R"re([\r\n]\s*(?:(?:ehlo|helo)\s+[a-z0-9.-]+\.[a-z]|mail\s+from\s*:|rcpt\s+to\s*:|auth\s+[a-z0-9-]+\s+[a-z0-9+/]{12,}=*|retr\s+\d+\s*$|[a-z]{1,4}\d{1,5}\s+(?:login|select|examine|status|append|fetch|store|uid|create|rename)\s+\S+\s+(?:\(|\{)|[a-z]{1,4}\d{1,5}\s+(?:capability|noop|logout|check|close|expunge|starttls|idle|unselect)\s*(?:[\r\n]|$)|[a-z]{1,4}\d{1,5}\s+(?:uid\s+)?(?:fetch\s+(?:\d+|\*)(?:[:,](?:\d+|\*))*(?:\s*(?:[\r\n]|$)|\s+(?:\(|body|rfc822|flags|envelope|uid\b|all\b|fast\b|full\b|internaldate|bodystructure))|store\s+(?:\d+|\*)(?:[:,](?:\d+|\*))*\s+[+-]?flags|(?:copy|move)\s+(?:\d+|\*)(?:[:,](?:\d+|\*))*\s+\S+\s*(?:[\r\n]|$))|[a-z]{1,4}\d{1,5}\s+(?:list|lsub)\s+"[^"\r\n]*"\s+\S))re"},
    // glob brackets holding slashes or a lone '?': /[e///]tc, pa[?]swd
    {4034, C::Rce, kValues, R"re(\[[a-z?*!^]/{2,}\]|[/a-z]\[\?\][a-z])re"},
    // bash parameter-expansion operators, command substitution inside ${...}, process
    // substitution, $SHELL -c
    {4035, C::Rce, kValues,
     R"re(\$\{[a-z_]+(?:##?|%%?)\{?[^}\s]{0,20}\}|\$\{\s*`[^`]+`\s*\}|(?:^|[\s;&|])[<>]\([a-z]+\s+[a-z0-9/._-]+\)|\$\{?(?:shell|bash)\}?\s+-c\b|\$\(\(\s*\d+\s*\)\))re"},
    // shell alias definition; a variable assigned then run: a=nc&&$a -l
    {4036, C::Rce, kValues,
     R"re(^\s*alias\s+(?:[-+][a-z+-]*\s+)*['"]?[a-z0-9_.-]+['"]?\s*=|(?:^|[;&|\s])[a-z_][a-z0-9_]*=[^\s;&|]{1,40}\s*(?:;|&&|\|\|?)\s*\$\{?[a-z_][a-z0-9_]*\}?\s)re"},
    // cmd.exe comparisons on quoted / %var% / bracketed operands; at-job scheduling
    {4037, C::Rce, kValues,
     R"re(\bif\s+(?:/i\s*)?(?:not\s+)?(?:"[^"]*"|\[[^\]]*\]|\{[^}]*\}|%[^%\s]+%)\s*==\s*(?:"[^"]*"|\[[^\]]*\]|\{[^}]*\}|%[^%\s]+%)\s*(?:[@(a-z]|$)|(?:^|[;&|])\s*at\s+\d{1,2}:\d{2}\s)re"},
    // more mail-protocol verbs after a line break
    {4038, C::Rce, kArg | kHeader,
     R"re([\r\n]\s*(?:apop\s+\S+\s+[0-9a-f]{32}|[a-z]{1,4}\d{1,5}\s+authenticate\s+[a-z0-9-]+))re"},
    // JSFuck-style coercion chains ('+' may have arrived as a form-encoded space)
    {2020, C::Xss, kValues, R"re(\(\s*!\s*\[\s*\]\s*\+?\s*\[\s*\]\s*\)|!\s*\+\s*\[\s*\]|!!\s*\[\s*\]|\[\s*\]\s*\[\s*\(\s*!)re"},
    // javascript: scheme split by control characters (ja&tab;vascript: after entity decoding)
    {2026, C::Xss, kValues, R"re((?:j[\t\r\n\x0b\x0c]+a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]+v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]+a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]+s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]+c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]+r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]+i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]+p[\t\r\n\x0b\x0c]*t|j[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*v[\t\r\n\x0b\x0c]*a[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]+t)[\t\r\n\x0b\x0c]*:)re"},
    // identifiers spelled with JS unicode escapes of ASCII letters: \u0076\u0061l\u0075e
    {2027, C::Xss, kValues, R"re((?:\\u00[4-7][0-9a-f][a-z0-9]{0,2}){4})re"},
    // tagged-template invocation: x.call`...`, [].sort.call`${alert}`
    {2021, C::Xss, kValues, R"re(\.\s*(?:call|apply|bind)\s*`|\$\{\s*(?:alert|prompt|confirm|eval)\s*\})re"},
    // property access on a parenthesised global: (document)["cookie"], self["\x24"]
    {2022, C::Xss, kValues,
     R"re(\(\s*(?:document|window|self|top|parent|frames|globalthis)\b[^()]{0,24}\)\s*\[\s*['"`]|\b(?:self|window|top|parent|globalthis|document)\s*\[\s*['"`](?:\\[xu0-9]|[^a-z0-9_'"`]))re"},
    // entity-spliced javascript: scheme (ja&tab;vascript:), entity-broken words
    {2023, C::Xss, kValues, R"re([a-z]&(?:tab|newline|colon);[a-z&:])re"},
    // injected document-level tags: <meta ...=, <link ... href, <noscript
    {2024, C::Xss, kValues,
     R"re(<meta\s+[a-z-]+\s*=|<link\b[^>]{0,60}\bhref\b|<noscript\b|<\s*:?\s*vmlframe\b|<\s*[a-z]\s*:\s*script|<[a-z](?: [a-z]){3,}(?:\s|>|$))re"},
    // US-ASCII 7-bit-stripped tag brackets: \xbcscript\xbe
    {2025, C::Xss, kValues, R"re(\xbc/?(?:script|img|svg|iframe|body|object|embed|style)(?:[\s/]|[\xc2\xd0]?\xbe))re"},
    // URL hosts in numeric / obfuscated forms after a scheme, with or without slashes
    {7020, C::Ssrf, kValues,
     R"re(^\s*[a-z][a-z0-9+.-]{1,15}:/{0,2}(?:[^/@\s]*@)?(?:(?:0x[0-9a-f]{6,8}|\d{8,10}|0\d{9,11}|(?:\d{1,3}\.){3}\d{1,3})(?:[:/?#]|$)|0[0-7]{1,3}\.0[0-7]{1,3}\.))re"},
    // IPv6 literal host (bracketed or bare)
    {7021, C::Ssrf, kValues,
     R"re(^\s*[a-z][a-z0-9+.-]{1,15}:/{0,2}(?:\[[0-9a-f:.]*:[0-9a-f:.]*\]|[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?:[/?#]|$)))re"},
    // authority confusion: userinfo holding an encoded slash, backslash, '#', space or '&';
    // several '@'; ideographic dots; backslash-escaped host letters
    {7022, C::Ssrf, kValues,
     R"re(^\s*[a-z][a-z0-9+.-]{1,15}://(?:[^/?\s@]*(?:%2f|%5c|\\|%23|#|\s|&)[^/\s]*@|[^/?#\s]*@[^/?#\s]*@|[^/\s]*(?:\xe3\x80\x82|\xef\xbc\x8e|\xef\xbd\xa1)|(?:\\+[a-z0-9.]){3}))re"},
    // well-known loopback / container-internal names as a bare host
    {7023, C::Ssrf, kArg | kHeader,
     R"re(^\s*(?:localhost[46]?\.localdomain[46]?|ipv6-localhost|ipv6-loopback|[a-z0-9.-]+\.(?:docker|containers)\.internal|[a-z0-9.-]+\.svc\.cluster\.local|kubernetes\.default(?:\.svc)?|localtest\.me|lvh\.me)(?:[:/]|$))re"},
    // PHP call with comments spliced before the parenthesis: exec/**/(), system #x\n()
    {5030, C::CodeInjection, kValues,
     R"re(\b(?:exec|system|passthru|shell_exec|eval|assert|popen|proc_open|pcntl_exec|include|require)\s*(?:/\*[^*]{0,60}\*/\s*|#[^\r\n]{0,60}[\r\n]+\s*|//[^\r\n]{0,60}[\r\n]+\s*)+\()re"},
    // callable wrapped in parentheses/brackets then called: (system)(ls), [system][0](ls),
    // variable-variable calls $__[$_[1]](7)
    {5031, C::CodeInjection, kValues,
     join<R"re(\(\s*['"]?(?:)re", kPhpExecFunctions,
          R"re(|phpinfo)['"]?\s*\)\s*\(|\[\s*['"]?(?:)re", kPhpExecFunctions,
          R"re()['"]?\s*\]\s*\[\s*\d+\s*\]\s*\(|\$[a-z_]*\[\s*\$[a-z_]*\[[^\]]{0,8}\]\s*\]\s*\()re">()},
    // PHP open-tag variants: "<? php", "<?xml:echo", [php]..[/php], {php}..{/php}
    {5032, C::CodeInjection, kValues, R"re(<\?\s+php\b|<\?xml\s*:\s*[a-z]|\[/php\]|\{/php\})re"},
    // busy-loop DoS: while(<simple operand>); with an empty body
    {5033, C::CodeInjection, kValues, R"re(\bwhile\s*\(+\s*(?:new\s+)?[-+!]?[a-z0-9_.]{1,16}\s*\)+\s*(?:;|\)))re"},
    // PHP variable-variable / dynamic calls: ${'a'}, $ {$a}, ${@a}(1), $O{0}(1), $_[_]{_}(1)
    {5035, C::CodeInjection, kValues,
     R"re(\$\s+\{\s*[^\s}]|\$\{\s*(?:'[^']*'|"[^"]*"|\$|@)|\$\s*\{[^}]{1,24}\}\s*(?:\[[^\]]{0,20}\]\s*)*\(|\$[a-z0-9_]+\s*(?:\{[^}]{0,10}\}|\[[^\]]{0,10}\]\s*)*\{[^}]{0,10}\}\s*(?:\[[^\]]{0,10}\]\s*)*\()re"},
    // dangerous PHP functions not in the main call list
    {5036, C::CodeInjection, kValues,
     R"re(\b(?:pfsockopen|curl_init|curl_multi_exec|bzdecompress|gzdecode|zlib_decode|get_defined_functions|get_defined_constants|dl|ob_start|mb_ereg_replace|create_function|extract|parse_str)\s*\()re"},
    // Node.js module / process reflection
    {5037, C::CodeInjection, kValues,
     R"re(\bprocess\s*\[|\brequire\s*(?:\[|\.\s*main\b|\.\s*cache\b)|\bmodule\s*\.\s*exports\s*=|\bconsole\s*(?:\.\s*[a-z]+\s*(?:\.\s*(?:call|apply)\s*)?|\[\s*['"][a-z]+['"]\s*\]\s*)\()re"},
    // Node process spawning
    {5034, C::CodeInjection, kValues,
     R"re(\b(?:process|child_process|cp)\s*\.\s*(?:spawn|spawnsync|exec|execfile|fork)\s*\(|\.spawn\s*\(\s*['"`])re"},

    // template control tags: {% if .. %}, <% for .. %>
    {6010, C::Ssti, kValues,
     R"re(\{%-?\s*(?:if|for|set|macro|block|raw|with|import|include|extends|filter|call)\b[^%]{0,80}%\}|<%=?\s*(?:if|for|each|while|unless)\b[^%]{0,80}%>)re"},
    // header injection naming a request header, or a response body after a blank line
    {12010, C::Crlf, kArg | kHeader | kName,
     R"re([\r\n]+\s*(?:remote-addr|x-forwarded-(?:for|host|proto)|x-real-ip|x-client-ip|host|cookie|referer|user-agent|authorization|content-length)[\r\s]*:|(?:\r?\n){2}\s*<(?:html|head|body|title|script|meta)\b)re"},
    // procfs / sysfs kernel interfaces, container secrets
    {3020, C::PathTraversal, kAll,
     R"re((?:^|[\\/])(?:proc[\\/]+(?:sys|interrupts|kallsyms|iomem|ioports|slabinfo|vmallocinfo|cgroups|devices|filesystems)(?:[\\/]|$)|sys[\\/]+(?:class|kernel|devices|block|bus|firmware|module|power)(?:[\\/]|$)|\.docker[\\/]+secrets))re"},

    // --- probes: the fragments attackers send to find out whether (and how) a value reaches
    // an interpreter. Each is the shape of a half-written expression, not a word list of
    // payloads: an unclosed call, a bare operator, a quote break, a dangling boolean.
    // a call left open at the end of the value: "count(", "if !(", "IN/**/(", "ln) ("
    {1050, C::Sqli, kValues | kPath,
     R"re((?:^|[^a-z0-9_])(?:abs|acos|ascii|asin|atan2?|avg|benchmark|bin|bit_and|bit_or|cast|ceil(?:ing)?|char(?:_length|set)?|chr|coalesce|collation|compress|concat(?:_ws)?|conv|convert|cos|cot|count|crc32|curdate|current_(?:date|timestamp|user)|curtime|database|date(?:_add|_format|_sub|diff)?|day(?:name|ofweek)?|decode|default|degrees|elt|encode|exists|exp|export_set|extract(?:value)?|field|find_in_set|floor|format|from_base64|from_unixtime|greatest|group_concat|hex|hour|if|ifnull|in|inet_aton|insert|instr|isnull|json_extract|lcase|least|left|length|ln|load_file|local|localtime|locate|log(?:10|2)?|lower|lpad|ltrim|make_set|max|md5|mid|min|minute|mod|month|name_const|nchar|now|nullif|oct|ord|password|pg_sleep|pi|position|pow(?:er)?|quote|radians|rand|repeat|replace|reverse|right|round|rpad|rtrim|schema|second|select|sha[12]?|sign|sin|sleep|soundex|space|sqrt|std(?:dev)?|strcmp|substr(?:ing(?:_index)?)?|sum|sysdate|system_user|tan|time(?:stamp)?|to_base64|trim|truncate|ucase|uncompress|unhex|updatexml|upper|user|utl_inaddr|uuid|values|varchar|version|waitfor|week(?:day)?|xmltype|year|execute|quarter)[\s\]=.&'"?!\\)$/<>|+*-]{0,6}\(\s*$)re"},
    // a value that is only a SQL operator / predicate / clause keyword
    {1051, C::Sqli, kValues,
     R"re(^\s*(?:>>|<<|<=>|xor|rlike|(?:not\s+)?regexp|(?:is|like)\s+(?:not\s+)?null|(?:order|group)\s+by|n?varchar(?:\s*\(\s*\d*\s*\)?)?|tempdb|msdb|northwind|schema_name|mysql\.db|->>|(?:not\s+)?in\s*\([^()]*\)|`[a-z_][a-z0-9_]*`|(?:div|mod|pow|power|round|floor|ceil|abs)\s*\(\s*-?[\d.]+\s*,\s*-?[\d.]+\s*\))\s*$)re", Reach::Plain},
    // a value that is only a comparison: 1=1, b,1=1, 42<=>42, 42 like 42, '1' not regexp '2'
    {1052, C::Sqli, kValues,
     R"re(^\s*(?:[a-z0-9_]+\s*,\s*)?\d+\s*(?:=|==|<=>|!=|<>)\s*\d+\s*$|^\s*(?:\d+|'[^']*'|"[^"]*")\s+(?:not\s+)?(?:like|rlike|regexp|is(?:\s+not)?)\s+(?:\d+|'[^']*'|"[^"]*"|null)\s*$|'[^']{0,20}'\s*(?:!=|<>)\s*'|'\s*,\s*'[^']{0,20}'\s*=\s*'|^\s*'[^']{0,40}'\s*,\s*(?:'[^']{0,40}'|0x[0-9a-f]+|\(\s*\d+\s*\)|\d+)\s*$|^\s*,\s*[a-z_][a-z0-9_]*["'`]\s*=?)re", Reach::Plain},
    // a value opening with a quote break: "';", "' or", "'union a", "`collate", mixed quotes (a
    // keyword only when the quote is never closed: "'Where the Crawdads Sing'" is a title)
    {1053, C::Sqli, kValues,
     R"re(^\s*[`'"]\s*!\s*[`'"]?\s*$|^\s*[`'"]+\s*(?:[;*=?#|^)]|--)|^\s*'+\s*(?:or|and|xor|union|alter|select|insert|update|delete|drop|create|exec|collate|from|having|where|order|group|limit|notnull|isnull)\b[^']*$|^\s*"+\s*(?:or|and|xor|union|alter|select|insert|update|delete|drop|create|exec|collate|from|having|where|order|group|limit|notnull|isnull)\b[^"]*$|^\s*`+\s*(?:or|and|xor|union|alter|select|insert|update|delete|drop|create|exec|collate|from|having|where|order|group|limit|notnull|isnull)\b[^`]*$|[a-z0-9]\s+'\s*$|^\s*\^\s*['"]|^\s*['"`]*(?:'"|"'|`'|'`|"`|`")['"`]*\s*$|[a-z0-9]['"`]\s+['"`]\s*\d|['"`]\s*collate\b|['"`]\s*(?:not\s+)?(?:regexp|rlike|sounds\s+like)\b)re"},
    // an escaped or doubled quote before a boolean: \' or, '''or 1, 'or'; a quote inside a
    // MySQL executable comment ("1/*!1111'*/": the server runs the comment's content)
    {1054, C::Sqli, kValues,
     R"re(/\*!\d{0,5}\s*['"`][^*]{0,16}\*/|\\['"`]+\s*\d*\s*(?:or|and|xor|\|\||&&)\b|\\x(?:23|27|22|60)|\\0x[0-9a-f]{2}|^\s*['"](?:\.['"]){5,}|['"`]{2,}(?:or|and|xor)\b|['"`](?:or|and)['"`\d]|\\[`'"](?:or|and)[`'"])re"},
    // a dangling or leading boolean: "/cm7 or " (not "size 10 and": a search typed ahead),
    // "or 'a' <", "and '5'x", "4or2-", "--alter",
    // ";drop", "; updateuser"
    {1055, C::Sqli, kValues,
     R"re(^\s*/\S*\s+(?:or|and|xor)\s*$|^\s*(?:or|and|xor)\s+(?:['"]|\d+\s*[=<>!'"])|^\d+(?:or|and|xor)\d+\s*[-+=<>]?\s*$|^\s*--\s*(?:alter|drop|select|union|update|delete|insert|create|exec|shutdown)\b|^\s*;\s*(?:(?:drop|alter|insert|delete|truncate|create|exec|select|declare|shutdown)\b|update|as\s+not\b))re", Reach::Plain},
    // SQL clauses out of context: "from `t` limit", "from t where a=", "execute proc",
    // "case when c then r" (not "from London as a student", "execute the plan"),
    // "group by .. having", "if(2=", "except select", "values ('", "unionselect", "like '"
    {1056, C::Sqli, kValues,
     R"re(^\s*from\s+(?:[`"\[][^`"\]]{1,64}[`"\]](?:\.[`"\[][^`"\]]{1,64}[`"\]])?|[a-z0-9]*_[a-z0-9_.]*)\s+(?:where|limit|join|inner\s+join|union)\b|^\s*from\s+\S+\s+(?:group|order)\s+by\b|^\s*from\s+\S+\s+where\s+[a-z_][a-z0-9_.]*\s*(?:=|<|>|!=|like\b|in\b)|^\s*execute(?:\s*\(|\s+[a-z_@][a-z0-9_.@]*\s*$)|\bcase\s+when\s+[a-z0-9_.]+\s+then\s+[a-z0-9_.']+|\bgroup\s+by\b[^;]{0,100}\bhaving\b|\bif\s*\(\s*\d+\s*[=<>]|\b(?:except|intersect|minus)\s+(?:select|values)\b|\bvalues\s*\(\s*['"\d]|union(?:all|distinct)?select|\blike\s+['"]\s*$|\binto\s+(?:out|dump)file\b)re", Reach::Plain},
    // numbers one past the integer limits, and the float that hangs old PHP/Java parsers
    {1057, C::Sqli, kValues,
     R"re((?:^|[^0-9.])(?:4294967296|9223372036854775808|18446744073709551616|2\.2250738585072011e-308)(?:$|[^0-9]))re", Reach::Plain},
    // UNION keyword chains in the path (the SQL tokenizer reads argument values)
    {1058, C::Sqli, kPath, R"re(\bunion(?:\s|/\*[^*]{0,20}\*/)+(?:all|distinct|select)\b)re"},
    // MongoDB operators in brackets inside a value: [$ne], u_id[$lte]
    {9003, C::Nosqli, kValues | kPath,
     join<R"re(\[\s*\$(?:)re", kMongoOperators,
          R"re()\s*\])re">()},
    // Windows environment variables a command line reads
    {4040, C::Rce, kValues,
     R"re(%(?:systemdrive|systemroot|windir|comspec|userprofile|programfiles|programdata|appdata|localappdata|homedrive|homepath|computername|allusersprofile|cmdcmdline|psmodulepath)%)re"},
    // cmd.exe IF comparisons at the start of a value: if a==b x, IF 2 GEQ 15 echo
    {4041, C::Rce, kValues,
     join<R"re(^\s*if(?:\s+(?:/i\s+)?|\s*/i\s+)(?:not\s+)?(?:cmdextversion\s+\d|[^\s=]{1,40}===?[^\s=:]{1,40}\s+\S|\S{1,40}\s+(?:)re", kCmdComparisons,
          R"re()\s+\S+\s+\S|\([^)]{0,40}\)\s*==\s*\([^)]{0,40}\)\s+[a-z]|%\d\s*==))re">(), Reach::Plain},
    // a whole cmd.exe IF statement at the start of a value: a condition (comparison with ==
    // or EQU/NEQ/LSS/LEQ/GTR/GEQ, ERRORLEVEL n, CMDEXTVERSION n, DEFINED v, a parenthesised
    // condition) and then a cmd.exe command or a block: IF /I a==b GOTO x, if (1) equ (1) echo
    {4024, C::Rce, kValues,
     join<R"re(^\s*if(?:\s*/i)?\s+(?:not\s+)?(?:(?:errorlevel|cmdextversion)\s+\d+|defined\s+\S+|\([^()]{1,60}\)(?:\s*(?:==|\s(?:)re", kCmdComparisons,
          R"re()\s)\s*\([^()]{0,40}\))?|[^\s=]{1,40}\s*===?\s*[^\s=]{1,40}|\S{1,40}\s+(?:)re", kCmdComparisons,
          R"re()\s+\S{1,40})\s+(?:\(|(?:echo|goto|call|cmd|set|setlocal|cd|chdir|pushd|popd|del|erase|copy|xcopy|robocopy|move|ren|rename|exit|start|type|dir|md|mkdir|rd|rmdir|pause|shift|for|if|rem|powershell|net|reg|taskkill|tasklist|certutil|bitsadmin|wmic)\b))re">(), Reach::Plain},
    // bash directory-stack and history expansion as the whole value: ~+, ~-1, ~0, !-1!-2
    {4042, C::Rce, kValues, R"re(^\s*~[+-]\d*\s*$|(?:^|[;&|\s])!-\d+(?:!-\d+|\s|$))re"},
    // bare shell variable / arithmetic expansions: ${cmd}, $[], $(($()) 42))
    {4043, C::Rce, kValues, R"re(^\s*\$\{[a-z_][a-z0-9_]*\}\s*$|\$\[\s*\]|\$\(\(\s*\$\()re"},
    // brace expansion splicing a word: c{a,oun}t
    {4044, C::Rce, kValues, R"re([a-z]\{[a-z]*,[a-z]*\}[a-z])re"},
    // globbed binary paths after a separator: ;/bin/ca? /et*/passwd
    {4045, C::Rce, kValues,
     R"re((?:^|[;&|`])\s*(?:/[a-z0-9]+)*/[a-z0-9]*[?*][a-z0-9?*]*[\s+]+/[a-z0-9?*/]*[?*]|[;&|]\s*\$[a-z_][a-z0-9_]*\s+(?:cat|ls|id|echo|curl|wget|nc|sh|bash|rm|cp|mv|uname|whoami|ping)\b|(?:^|[;&|\s])\\(?:ls|cat|rm|cp|mv|id|echo|curl|wget|nc|sh|bash|uname|whoami|ping|env)\b)re"},
    // /dev/tcp reached through a variable, a shell run in a subshell: >$d/tcp/, (sh)0>
    {4046, C::Rce, kValues, R"re(\$\{?[a-z_]+\}?/(?:tcp|udp)/\d|\(\s*(?:sh|bash|zsh|ksh)\s*\)\s*\d*[<>])re"},
    // here-strings into an interpreter or compiler: irb<<<1+2, gcc<<<'main(){}'
    {4047, C::Rce, kValues, R"re((?:^|[;&|\s])[a-z][a-z0-9.+-]*\s*<<<)re"},
    // sqlite shell dot-commands after a separator; gcc -wrapper
    {4048, C::Rce, kValues,
     R"re((?:^|[;\n])\s*(?:\\n)?\.(?:databases|tables|schema|dump|shell|system|import|output|load|read)\b|(?:^|\s)-wrapper\s+[a-z/]*sh\b)re"},
    // IMAP / POP3 commands after a line break
    {4049, C::Rce, kArg | kHeader,
     R"re([\r\n]\s*(?:[a-z]{1,4}\d{1,5}\s+uid\s+(?:store|fetch|copy|search)\s+\d|(?:list|retr|dele|uidl)\s+\d+\s*$|top\s+\d+\s+\d+\s*$))re"},
    // a whole value that is a call: is_array(), strrev( ), exec  (blah), subSTR($x) in the path
    {5040, C::CodeInjection, kValues,
     join<R"re(^\s*(?:)re", kPhpFunctions,
          R"re()\s*\(\s*(?:\$?[a-z0-9_]*)?\s*\)\s*;?\s*$)re">()},
    {5041, C::CodeInjection, kPath, join<R"re(/(?:)re", kPhpFunctions,
          R"re()\s*\(\s*(?:\$[a-z0-9_]*)?\s*\)\s*$)re">()},
    // php.ini directives set through a value
    {5042, C::CodeInjection, kValues,
     R"re(^\s*(?:allow_url_include|allow_url_fopen|auto_prepend_file|auto_append_file|disable_functions|disable_classes|open_basedir|safe_mode|memory_limit|max_execution_time|extension_dir|extension|zend_extension|engine|precision|smtp|sendmail_path|sendmail_from|error_log|include_path|unserialize_max_depth|display_errors|log_errors|upload_tmp_dir|register_globals|short_open_tag|expose_php|file_uploads|(?:opcache|session|mbstring|zend|pcre|phar|mail|assert)\.[a-z_]+)\s*=\s*\S)re"},
    // PHP tags in BBCode / processing-instruction form: [php], [\php], <?xml ();, a trailing <?
    {5043, C::CodeInjection, kValues,
     R"re(\[\\?/?php\]|<\?xml\s*\(|^[a-z0-9_ .-]*<\?\s*$)re"},
    // JavaScript prototype reached through brackets: constructor[prototype], [constructor][prototype]
    {5044, C::CodeInjection, kAll,
     R"re(\bconstructor\s*\]?\s*\[\s*['"]?prototype\b)re"},
    // PHP callables assembled from arrays / strings and then called
    {5045, C::CodeInjection, kValues,
     join<R"re(\[\s*['"]?(?:)re", kPhpExecFunctions,
          R"re()['"]?\s*\]\s*\[\s*\d+\s*\]|\)\s*\[\s*\d+\s*\]\s*\[\s*\d+\s*\]\s*\(\s*['"]|\[\s*\[\s*['"][a-z_]+['"]\s*\.\s*['"][a-z_]+['"]\s*\]\s*\])re">()},
    // PHP variable call with comments / line breaks between the name, indexes and '('
    {5046, C::CodeInjection, kValues,
     R"re(\$[a-z_][a-z0-9_]*(?:\s|#[^\n]{0,40}\n|//[^\n]{0,40}\n|/\*[^*]{0,40}\*/|\[[^\]]{0,10}\])*(?:#[^\n]{0,40}\n|//[^\n]{0,40}\n|/\*[^*]{0,40}\*/)(?:\s|\[[^\]]{0,10}\]|/\*[^*]{0,40}\*/)*\()re"},
    // data: URLs that carry script or text to an include/fetch
    {5047, C::CodeInjection, kValues,
     R"re(^\s*data:(?:text/(?:plain|html|javascript|x-php)|application/(?:x-)?(?:javascript|ecmascript|php|x-httpd-php))\b|^\s*data:\s*,)re"},
    // ORM lookup chains across relations in a parameter name (Django/Ransack style filters)
    {5048, C::CodeInjection, kName,
     R"re([a-z0-9]__[a-z0-9_]+__(?:startswith|istartswith|endswith|iendswith|contains|icontains|exact|iexact|regex|iregex|has_keys?|has_any_keys|isnull|gte?|lte?)$)re", Reach::Plain},
    // HTML comment close injected alone; attribute injection after a quote; JS timers/codecs
    {2030, C::Xss, kValues, R"re(^\s*--!?>\s*$|\bformaction\s*=|^\s*['"]\s*[a-z][a-z0-9.]*\s*=\s*$)re"},
    {2031, C::Xss, kValues,
     R"re(\b(?:setinterval|settimeout|setimmediate|atob|btoa|execscript|fromcharcode)\s*\(|v[\t\r\n\x0b\x0c]*b[\t\r\n\x0b\x0c]*s[\t\r\n\x0b\x0c]*c[\t\r\n\x0b\x0c]*r[\t\r\n\x0b\x0c]*i[\t\r\n\x0b\x0c]*p[\t\r\n\x0b\x0c]*t[\t\r\n\x0b\x0c]*:)re"},

    // mail header injection into an address field: "a@b.c\r\nBcc: x"; an escaped "\r\n" before
    // Set-Cookie/Location (a backend that unescapes strings writes a real one);
    // CR/LF smuggled as U+560A/U+560D (servers that keep the low byte of each character)
    {12020, C::Crlf, kArg | kName,
     R"re(^[^\r\n\s@]{1,64}@[^\r\n\s]{1,100}[\r\n]+\s*(?:bcc|cc|to|from|subject|reply-to|sender|return-path)\s*:|(?:\xe5\x98[\x8a\x8d])+[a-z0-9-]{2,40}\s*:|\\r\\n\s*(?:set-cookie2?|location)\s*:)re"},
    // DNS-rebinding services and hosts made of hex-encoded IPv4 labels
    {7024, C::Ssrf, kArg | kHeader,
     R"re(^\s*[a-z][a-z0-9+.-]{1,15}://(?:[^/@\s]*@)?(?:[a-z0-9.-]*\.)?(?:rbndr\.us|rebind\.it|rebind\.network|1u\.ms|[0-9a-f]{8}\.[0-9a-f]{8}\.[a-z0-9.-]+)(?:[:/?#]|$))re"},
    // a dangling pipe: a plain one-line value (a number, a word, a product name) with a '|'
    // glued to its end, so that the command it is pasted into feeds a second one ("2|", "|");
    // not a table row ("| a | b |"), a typo after a space ("scale |"), or a password full of
    // symbols ("P@ss;w0rd|")
    {4051, C::Rce, kValues,
     R"re(^[^|\r\n;&$@!#%^*<>'"`(){}\[\]=?\\]*[a-z0-9\x80-\xff]\|[ \t]*$|^\s*\|\s*$)re"},
    // package-manager installs as the whole value
    {4050, C::Rce, kValues,
     R"re(^\s*(?:pip[0-9.]*|pipx|npm|yarn|gem|apt|apt-get|yum|dnf|apk|brew|composer|cargo)\s+(?:install|uninstall|download|exec|add|remove)\b)re", Reach::Plain},
    // PHP functions whose names are distinctive even glued to other text, called or assigned
    {5049, C::CodeInjection, kValues,
     R"re((?:call_user_func(?:_array)?|fsockopen|gzdecode|gzinflate|gzuncompress|zlib_decode|base64_decode|shell_exec|file_get_contents|file_put_contents|str_rot13|proc_open|create_function)\s*=?\s*\()re"},
    // a snake_case (PHP/C-style) call left open at the end of the value, or gethostbyname(
    {5050, C::CodeInjection, kValues | kPath,
     R"re((?:[a-z][a-z0-9]*_[a-z0-9_]+|gethostbynamel?|phpinfo|getenv|passthru)\s*\(\s*$)re"},
    // prototype references in serialized React Server Components chunks: "$7:Module:prototype"
    {5051, C::CodeInjection, kValues, R"re(\$\d+:(?:[a-z_]+:)*(?:prototype|constructor|__proto__)\b)re"},
    // an element declaring namespaces inside a value (xmlns XSS), IE import tags, a value
    // that opens an attribute: 'div id="'
    {2032, C::Xss, kValues,
     R"re(<[a-z][a-z0-9]*\s+xmlns(?::[a-z0-9]+)?\s*=[^>]{0,200}\bxsi\s*:\s*schemalocation\s*=|<import\s*implementation\s*=|^\s*[a-z]+\s+[a-z-]+\s*=\s*["']\s*$)re"},
    // a data: URL of a type that runs script when loaded or navigated to (SVG, HTML, JS)
    {2033, C::Xss, kValues,
     R"re(^\s*data:\s*(?:text/html|image/svg\+xml|application/xhtml\+xml|text/javascript|application/(?:x-)?(?:java|ecma)script)\b)re"},
    // an external entity declaration without the "<!": "!ENTITY % x SYSTEM"
    {8004, C::Xxe, kAll, R"re(!entity\s+(?:%\s*)?[a-z0-9_.-]+\s+(?:system|public)\b)re"},
    // output redirected into a system directory: ">/tmp/x"
    {3030, C::PathTraversal, kValues, R"re(^\s*>+\s*/(?:tmp|dev|etc|var|root|home|proc)/)re"},
    // database dumps and backups packed as archives
    {3031, C::PathTraversal, kArg | kPath,
     R"re(\.(?:sql|db|sqlite3?|bak|dump|mdb)\.(?:zip|gz|tgz|tar|bz2|7z|rar|xz)$)re"},
    // uploads named like credentials / service configuration
    {5052, C::CodeInjection, kFilename,
     R"re(^\s*(?:\.boto|mtrr|acpi|\.env|\.htaccess|\.htpasswd|\.user\.ini|php\.ini|web\.config|wp-config[-_.]php[^/]*|config\.ya?ml|\.bash_history|\.bashrc|\.profile|authorized_keys|id_rsa|\.npmrc|\.pypirc|\.netrc|\.git-credentials)\s*$)re"},
    // Node's module loader reached by reflection: the main module's constructor (Module) and
    // its _load, the main module's require
    {5024, C::CodeInjection, kValues,
     R"re(\brequire\s*\.\s*main\s*\.\s*constructor\b|\bmodule\s*\.\s*constructor\s*\.\s*_load\b|\bconstructor\s*\.\s*_load\s*\(|\bprocess\s*\.\s*mainmodule\s*\.\s*require\b)re"},
    // Node child_process reached through a string in the path
    {5053, C::CodeInjection, kPath, R"re(["'`]child_process["'`]|\.spawn\s*\(\s*['"`])re"},
    // a JavaScript boolean chain into a property in the path: /2499999||this.product
    {1059, C::Sqli, kPath, R"re([0-9a-z'"]\|\|\s*this\.)re"},
    // XPath: the quote of a predicate closed, then a boolean or a union with a location path,
    // an axis or an XPath function ("' or count(/child::node())>0 or '", "'] | //user/*[")
    {1060, C::Sqli, kArg | kHeader,
     R"re(['"]\s*\]?\s*(?:or|and|\|)\s*(?:not\s*\(\s*)?(?:(?:name|local-name|namespace-uri|count|string-length|substring(?:-before|-after)?|contains|starts-with|position|last|normalize-space|translate|boolean|document|doc)\s*\(|//(?:\*|@?[a-z_])|/(?:\*|@[a-z_])|/[a-z_][a-z0-9_.-]*\s*\[|(?:ancestor|ancestor-or-self|descendant|descendant-or-self|following|following-sibling|preceding|preceding-sibling|parent|child|attribute|self)::))re"},

    // --- scanners
    {
        14001, C::Scanner, kAgent,
        R"re((?:nikto|sqlmap|nmap|nessus|acunetix|netsparker|w3af|dirbuster|gobuster|\bdirb\b|wpscan|masscan|zgrab|nuclei|burp(?:suite|collaborator)|havij|fimap|arachni|openvas|whatweb|zmeu|jaeles|feroxbuster|\bffuf\b|wfuzz|\bhydra\b|skipfish|webinspect|appscan|paros|\bzap/|owasp[ -]zap|morfeus|jorgee|commix|xsser|bbqsql|sqlninja|pangolin|absinthe|webshag|httprint|dotdotpwn|metasploit|struts-?pwn|nmap scripting engine|\bsf/\d|crawlergo|\bxray\b|qualys|detectify|probely|brutus|blackwidow|\bvega/|webcruiser|jbrofuzz|\bnsauditor|prowler|\bwapiti|\bmasscan|\bcensys|zmap|l9explore|l9tcpid|interactsh|netlab360|\bfuzz\b|\bscanner\b))re"},
    {14002, C::Scanner, kPath,
     R"re((?:/@(?:id|fs)/|/_vti_[a-z]+|/iisadmpwd|/iisadmin|/msadc/|/scripts/(?:\.\.|root\.exe|cmd\.exe)|/cgi-bin/(?:php|test-cgi|printenv|nph-|phf|handler|count\.cgi|formmail)|/phpmyadmin|/server-(?:status|info)(?:$|[/?])|/(?:web|meta)-inf(?:/|$)|/\.(?:git|svn|hg|bzr|cvs|ds_store|idea|vscode|claude|cursor|continue|aider|roo|zed|cline|kiro|windsurf|codex|opencode|junie|plandex|rovodev|n8n|gemini|amazonq)(?:/|$)|/\.(?:aiignore|cursorignore|cursorrules|windsurfrules|clinerules|aider\.conf\.yml|aider\.chat\.history\.md)$|/cvs/(?:entries|root)|/wp-admin/(?:install|setup-config)|/actuator/(?:env|heapdump|jolokia|gateway|mappings|configprops|threaddump|logfile)|/jmx-console|/invoker/(?:jmxinvokerservlet|ehinvokerservlet)|/manager/html|/hnap1|/boaform|/solr/admin|/console/login/loginform\.jsp|/\.well-known/security\.txt~|/xmlrpc\.php|/elmah\.axd|/trace\.axd|/phpinfo\.php|/shell\.php|/c99\.php|/r57\.php|/adminer\.php))re"},
    {14004, C::Scanner, kPath,
     R"re(\.(?:exe|dll|bat|cmd|htr|ida|idq|htw|printer|nsf|asa|shtm)(?:$|[;/]))re"},
    // Hosts of out-of-band interaction services (interactsh, Burp Collaborator, dnslog): a
    // scanner's payload names one so that the target's fetch, lookup or log call reports back.
    {14005, C::Scanner, kAll,
     R"re((?:[a-z0-9-]\.|//|@)(?:oast\.(?:pro|live|site|online|fun|me)|interact\.sh|interactsh\.com|burpcollaborator\.net|oastify\.com|dnslog\.(?:cn|link)|ceye\.io|requestrepo\.com|bxss\.me|xss\.ht)(?:$|[^a-z0-9.-]))re"},
    {14003, C::Scanner, kPath,
     R"re(\.(?:bak|backup|bkp|old|orig|original|save|sav|swp|swo|tmp|temp|dist|copy|inc|ini|cfg|conf|config|log|sql|sqlite3?|db|mdb|dbf|dump|rdb|pem|key|crt|p12|pfx|jks|keystore|env|passwd|pwd|htpasswd|htaccess|properties|lock|git|svn|cvs|vb|vbproj|csproj|sln|asa|cer|der|csr|kdbx|ovpn|rsa|ppk)(?:$|;)|~$|[^/]~/|\.(?:php|asp|aspx|jsp|html?|js|py|rb|pl|cgi)[~.](?:$|[/;])|/(?:#[^/]*#|\.#[^/]*)$|/(?:backups?|dump|db|database|mysql|sql|site|www|data)[^/]*\.(?:sql|sqlite3?|db|dump)\.(?:gz|zip|bz2|xz|7z|rar|tgz|tar(?:\.gz)?)(?:$|;)|/(?:backups?|www|wwwroot|htdocs|public_html|website)\.(?:zip|rar|7z|tgz|tar(?:\.(?:gz|bz2|xz))?)(?:$|;))re"},
});

} // namespace

std::span<const PatternRule> patternRules() { return kRules; }

} // namespace bulwark::detect::internal
