#include "bulwark/detect/rule_registry.h"

#include <algorithm>
#include <array>

#include "score.h"

namespace bulwark::detect {
namespace {

using C = AttackClass;
constexpr RuleKind P = RuleKind::Pattern;
constexpr RuleKind D = RuleKind::Code;
constexpr RuleKind K = RuleKind::KnownExploit;

// One row per rule id, sorted by id. Ids are grouped by class: 1xxx sqli, 2xxx xss, 3xxx path
// traversal, 4xxx rce, 5xxx code injection, 6xxx ssti, 7xxx ssrf, 8xxx xxe, 9xxx nosqli,
// 10xxx ldapi, 11xxx log4shell, 12xxx crlf, 13xxx protocol, 14xxx scanner, 15xxx known
// exploits. A new rule takes a free id of its class here first; its pattern, detector or
// known-exploit row then uses that id (registry tests fail for an id that is emitted but not
// registered, or registered with another class or kind).
constexpr auto kRules = std::to_array<RuleInfo>({
    // --- SQL injection
    {1001, C::Sqli, D, "SQL breakout followed by a boolean condition: ' or 1=1"},
    {1002, C::Sqli, D,
     "SQL breakout followed by a comparison or operator expression: ' like, '=', ' is not null"},
    {1003, C::Sqli, D, "SQL breakout closed by a comment that drops the rest: ' --, ' #, ' /*"},
    {1004, C::Sqli, D, "SQL statement stacked after ';' or as the whole value; WAITFOR DELAY after an operand"},
    {1005, C::Sqli, D, "set operation with a select list: UNION [ALL] SELECT, EXCEPT, INTERSECT"},
    {1006, C::Sqli, D, "ORDER BY n / GROUP BY / HAVING / PROCEDURE ANALYSE after a breakout"},
    {1007, C::Sqli, D, "SELECT ... INTO OUTFILE / DUMPFILE after a breakout"},
    {1008, C::Sqli, D, "parenthesised subquery with a select list: (select a from t)"},
    {1009, C::Sqli, D, "SQL-only function call in SQL context: sleep(5), benchmark(), extractvalue()"},
    {1010, C::Sqli, D, "tautology of literals after a boolean operator: or 1=1, and 'a'='a'"},
    {1011, C::Sqli, D, "SQL system variable: @@version, @@datadir"},
    {1012, C::Sqli, D, "SQL catalog or dangerous stored procedure named: information_schema, xp_cmdshell"},
    {1013, C::Sqli, D, "SQL breakout followed by a WHERE clause or a statement"},
    {1014, C::Sqli, D, "whole SELECT statement as the value: select char(..), select a from t"},
    {1015, C::Sqli, D, "dangling boolean fragment opening the value: and 1=(, or deleted = 0)"},
    {1016, C::Sqli, D, "PostgreSQL cast of a value: ::int, ::text, ::regclass"},
    {1017, C::Sqli, P, "call of a SQL-specific function: unhex(, group_concat(, pg_sleep(, updatexml("},
    {1018, C::Sqli, D, "tail of a select list: ) as alias from"},
    {1019, C::Sqli, P, "SQL system catalog named: information_schema, pg_catalog, sqlite_master"},
    {1030, C::Sqli, P, "stacked query: a value opening with ';' and a statement verb (drop, exec)"},
    {1031, C::Sqli, P, "MySQL user-variable assignment or a subquery assigned in an expression"},
    {1032, C::Sqli, P, "boolean continuation with a programming-style comparison: || x ==, or a !="},
    {1033, C::Sqli, P, "quote break whose tail is commented out: x'|email--, '||true"},
    {1034, C::Sqli, P, "PostgreSQL JSON operators on a JSON literal, casts on call results"},
    {1035, C::Sqli, P, "dangerous stored procedure, package or OLE DB provider: xp_cmdshell, utl_http"},
    {1036, C::Sqli, P, "data-changing statement terminated and commented: drop t;--"},
    {1037, C::Sqli, P, "comment-spliced keywords or MySQL versioned comment: dr/**/op, /*!50000select"},
    {1038, C::Sqli, P, "XOR as a boolean, scientific-notation splice, hex-literal select, HAVING n"},
    {1039, C::Sqli, P, "quoted-identifier aliasing, paren-wrapped LIKE, a value closed by quote and ';'"},
    {1050, C::Sqli, P, "SQL function call left open at the end of the value: count("},
    {1051, C::Sqli, P, "a value that is only a SQL operator, predicate or clause keyword"},
    {1052, C::Sqli, P, "a value that is only a comparison: 1=1, 42<=>42, '1' not regexp '2'"},
    {1053, C::Sqli, P, "a value opening with a quote break: ';, ' or, 'union a"},
    {1054, C::Sqli, P, "an escaped or doubled quote before a boolean: \\' or, '''or 1; a quote in /*!1111'*/"},
    {1055, C::Sqli, P, "a dangling or leading boolean or statement: /x or, ;drop"},
    {1056, C::Sqli, P, "SQL clauses out of context: from `t` limit, case when c then r"},
    {1057, C::Sqli, P, "a number one past an integer limit, or the float that hangs parsers"},
    {1058, C::Sqli, P, "UNION keyword chain in the path: union select, union/**/all"},
    {1059, C::Sqli, P, "a JavaScript boolean chain into a property in the path: 1||this.x"},
    {1060, C::Sqli, P, "XPath breakout: a quote closed, then or/and/| and a path, axis or XPath function"},

    // --- cross-site scripting
    {2001, C::Xss, D, "active HTML element: <script>, <iframe>, <object>, <embed>, <base>, <style>"},
    {2002, C::Xss, D, "HTML tag with an event handler or a script URL in a URL attribute"},
    {2003, C::Xss, D, "HTML element together with a script URL: <svg>, <a>, <img>, <form> and javascript:"},
    {2004, C::Xss, D, "script URL followed by code: javascript:alert(1), vbscript:"},
    {2005, C::Xss, D, "attribute breakout: a quote, then an event handler with code"},
    {2006, C::Xss, D, "JavaScript string breakout followed by a call: ';alert(1)//"},
    {2007, C::Xss, P, "DOM sink or source: document.cookie, window.location, .innerHTML="},
    {2008, C::Xss, P, "event handler attribute: onerror=, onload="},
    {2009, C::Xss, P, "script in CSS: url(javascript:, expression(, -moz-binding"},
    {2010, C::Xss, P, "bracket access on a global then a call: window['alert'](1)"},
    {2020, C::Xss, P, "JSFuck-style coercion chain: (![]+[]), !+[]"},
    {2021, C::Xss, P, "tagged-template invocation: x.call`...`, ${alert}"},
    {2022, C::Xss, P, "property access on a parenthesised global: (document)['cookie']"},
    {2023, C::Xss, P, "entity-spliced word: ja&tab;vascript:"},
    {2024, C::Xss, P, "injected document-level tag: <meta ..=, <link href, <noscript"},
    {2025, C::Xss, P, "tag brackets of 7-bit-stripped US-ASCII: \\xbcscript\\xbe"},
    {2026, C::Xss, P, "javascript: scheme split by control characters"},
    {2027, C::Xss, P, "identifier spelled with JavaScript \\u escapes of ASCII letters"},
    {2030, C::Xss, P, "a lone HTML comment close, formaction=, an attribute opened after a quote"},
    {2031, C::Xss, P, "JavaScript timer or codec called: setTimeout(, atob(, fromCharCode("},
    {2032, C::Xss, P, "element declaring namespaces (xmlns XSS), IE import tag, an opened attribute"},
    {2033, C::Xss, P, "data: URL of a type that runs script: text/html, image/svg+xml"},

    // --- path traversal / local file inclusion
    {3001, C::PathTraversal, P, "dot-dot path steps: ../, ..\\, ..;"},
    {3002, C::PathTraversal, P, "dot-dot step at the end of a path or before ; % ?"},
    {3003, C::PathTraversal, P, "sensitive file under /etc: /etc/passwd, /etc/shadow, /etc/nginx/"},
    {3004, C::PathTraversal, P, "process file under /proc/self or /proc/<pid>: environ, cmdline, fd"},
    {3005, C::PathTraversal, P, "kernel information under /proc: version, cpuinfo, net/"},
    {3006, C::PathTraversal, P, "user secret file: ~/.ssh keys, shell history, .aws/credentials, .git/config"},
    {3007, C::PathTraversal, P, "Windows or Java system file: win.ini, system32/config, WEB-INF/web.xml"},
    {3008, C::PathTraversal, P, "server log, secret or state under /var: /var/log/auth, /var/run/secrets"},
    {3009, C::PathTraversal, P, "absolute path to a system directory as the value: /etc/, c:\\windows"},
    {3010, C::PathTraversal, P, "file: URL as the value"},
    {3011, C::PathTraversal, P, "application config or secret file: wp-config.php, .env, web.config"},
    {3013, C::PathTraversal, P, "dot-dot steps with separators no decoder understands: ..%bg%qf.."},
    {3014, C::PathTraversal, P, "well-known system file spelled with junk separators: etc%c0passwd"},
    {3020, C::PathTraversal, P, "procfs or sysfs kernel interface, container secrets: /proc/sys, /sys/class"},
    {3021, C::PathTraversal, D, "a hidden file or directory in the path (/.well-known aside)"},
    {3022, C::PathTraversal, D, "the path climbs above the root after canonicalisation"},
    {3030, C::PathTraversal, P, "output redirected into a system directory: >/tmp/x"},
    {3031, C::PathTraversal, P, "a database dump or backup packed as an archive: db.sql.gz"},

    // --- OS command injection
    {4001, C::Rce, D, "separator or substitution followed by a known command with arguments: ;id"},
    {4002, C::Rce, D, "value that is a command line: a known command with an argument shape"},
    {4003, C::Rce, D, "path to a system binary in a command-like value: /bin/sh -c, /usr/bin/id"},
    {4004, C::Rce, D, "word with an option after a command separator: ; c89 -wrapper"},
    {4005, C::Rce, D, "word with an absolute path argument after a separator: ; fold /etc/passwd"},
    {4006, C::Rce, D, "a value that starts like an administration tool's command line"},
    {4007, C::Rce, D, "a ';' list of two known commands, one with a path or option argument"},
    {4010, C::Rce, P, "shellshock function definition: () { :; };"},
    {4011, C::Rce, P, "bash network redirection: /dev/tcp/, /dev/udp/"},
    {4012, C::Rce, P, "Windows command or PowerShell: cmd /c, powershell -enc, iex(, net user"},
    {4013, C::Rce, P, "shell run with a command string: sh -c, bash -i"},
    {4014, C::Rce, P, "binary path written with globs after a separator: ;/b?n/c?t"},
    {4015, C::Rce, P, "command substitution of a reconnaissance command: $(id), $(curl"},
    {4016, C::Rce, P, "netcat with -e/-c or a host and port: nc -e /bin/sh, nc 10.0.0.1 4444"},
    {4018, C::Rce, P, "destructive or shell-spawning command: rm -rf, chmod +x, mkfifo, /bin/sh"},
    {4019, C::Rce, P, "cmd.exe batch syntax: for %i in (...) do, if exist, %errorlevel%"},
    {4020, C::Rce, P, "value that is a command with options and a system path: cat -n /etc/x"},
    {4021, C::Rce, P, "shell arithmetic expansion: $((1+1)), $[1+1]"},
    {4022, C::Rce, P, "fork bomb: :(){ :|:& };:"},
    {4023, C::Rce, P, "reconnaissance command: whoami, ifconfig, uname -a, cat /etc/x"},
    {4024, C::Rce, P, "whole cmd.exe IF statement followed by a command: if /i a==b goto x"},
    {4025, C::Rce, D, "';' list of three or more known commands, one with a path or option argument"},
    {4030, C::Rce, P, "word spliced by empty substitutions, quotes or parameters: pi$()ng, c$@at"},
    {4031, C::Rce, P, "bash brace expansion used as a command list: {id,}, {nc,-lvp,4444}"},
    {4032, C::Rce, P, "shellshock: a value that is a bash function definition"},
    {4033, C::Rce, P, "SMTP / POP3 / IMAP command injected after a line break"},
    {4034, C::Rce, P, "glob brackets holding slashes or a lone '?': /[e///]tc, pa[?]swd"},
    {4035, C::Rce, P, "bash parameter-expansion operators, substitution inside ${}, process substitution"},
    {4036, C::Rce, P, "shell alias definition, or a variable assigned then run: a=nc&&$a -l"},
    {4037, C::Rce, P, "cmd.exe comparison on quoted or %var% operands; at-job scheduling"},
    {4038, C::Rce, P, "mail-protocol authentication verb after a line break: APOP, AUTHENTICATE"},
    {4040, C::Rce, P, "Windows environment variable a command line reads: %comspec%, %windir%"},
    {4041, C::Rce, P, "cmd.exe IF comparison opening a value: if a==b x"},
    {4042, C::Rce, P, "bash directory-stack or history expansion as the value: ~+, !-1"},
    {4043, C::Rce, P, "bare shell variable or arithmetic expansion: ${cmd}, $[]"},
    {4044, C::Rce, P, "brace expansion splicing a word: c{a,oun}t"},
    {4045, C::Rce, P, "globbed binary paths or an escaped command after a separator: ;/bin/ca? /et*"},
    {4046, C::Rce, P, "/dev/tcp reached through a variable, a shell in a subshell: (sh)0>"},
    {4047, C::Rce, P, "here-string into an interpreter or compiler: irb<<<1+2"},
    {4048, C::Rce, P, "sqlite shell dot-command after a separator, gcc -wrapper"},
    {4049, C::Rce, P, "IMAP / POP3 command after a line break: a1 uid fetch 1, retr 1"},
    {4050, C::Rce, P, "a package-manager install as the value: pip install x"},
    {4051, C::Rce, P, "a pipe glued to the end of a plain value: 2|"},
    {4052, C::Rce, D, "a command line in a parameter named for a command: cmd=id, sysCmd=wget http://x"},
    {4053, C::Rce, P, "the whole value is a download command: wget http://x/a.sh, curl -o x http://y"},

    // --- code injection
    {5001, C::CodeInjection, P, "PHP open tag: <?php, <?="},
    {5002, C::CodeInjection, P, "dangerous PHP function called: shell_exec(, passthru(, unserialize("},
    {5003, C::CodeInjection, P, "PHP exec/eval/include of a string or variable, superglobals: $_GET"},
    {5004, C::CodeInjection, P, "PHP stream wrapper: php://, phar://, expect://"},
    {5005, C::CodeInjection, P, "PHP serialized object or array: O:8:\"stdClass\":1:{"},
    {5006, C::CodeInjection, P, "Java reflection, runtime or OGNL: java.lang.Runtime, #_memberaccess"},
    {5007, C::CodeInjection, P, "Java serialized stream or gzip base64 marker: rO0AB, aced0005"},
    {5008, C::CodeInjection, P, "Node.js child_process, process internals (process['mainModule']), constructor.constructor"},
    {5009, C::CodeInjection, P, "prototype pollution: __proto__, constructor.prototype"},
    {5010, C::CodeInjection, P, "server-side or edge-side include directive: <!--#exec, <!--#include, <esi:include"},
    {5011, C::CodeInjection, P, "Python internals or process calls: __import__(, __globals__, os.system("},
    {5012, C::CodeInjection, P, "eval of decoded or request data: eval(base64_, eval(atob("},
    {5013, C::CodeInjection, P, "Windows script host or ASP objects: wscript.shell, createobject("},
    {5014, C::CodeInjection, P, "fully qualified Java, JNDI or gadget package name: org.apache.x"},
    {5015, C::CodeInjection, P, "Java deserialization gadget class: InvokerTransformer, TemplatesImpl"},
    {5016, C::CodeInjection, P, "PHP variable function call: $f(x), ${'a'}("},
    {5017, C::CodeInjection, P, "serialized or compressed object marker in base64: rO0AB, H4sIB"},
    {5018, C::CodeInjection, P, "PHP call inside string interpolation: ${system("},
    {5019, C::CodeInjection, P, "JavaScript function construction or busy loop: new Function(, while(1)"},
    {5020, C::CodeInjection, P, "upload file name with a server-executed extension: .php, .jsp, .aspx"},
    {5021, C::CodeInjection, P, "call of a call result on a string, string concatenation called"},
    {5022, C::CodeInjection, P, "upload file name of a PHP session file: sess_<id>"},
    {5023, C::CodeInjection, P, "expression language array construction: ${[, @{["},
    {5024, C::CodeInjection, P, "Node module loader reached by reflection: require.main.constructor._load"},
    {5030, C::CodeInjection, P, "PHP call with comments spliced before the parenthesis: exec/**/("},
    {5031, C::CodeInjection, P, "callable wrapped in parentheses or brackets then called: (system)(ls)"},
    {5032, C::CodeInjection, P, "PHP open-tag variant: <? php, <?xml:echo, [/php], {/php}"},
    {5033, C::CodeInjection, P, "busy-loop denial of service: while(x); with an empty body"},
    {5034, C::CodeInjection, P, "Node process spawning: child_process.spawn(, cp.exec("},
    {5035, C::CodeInjection, P, "PHP variable-variable or dynamic call: ${'a'}, $O{0}(1)"},
    {5036, C::CodeInjection, P, "dangerous PHP function outside the main list: curl_init(, extract("},
    {5037, C::CodeInjection, P, "Node.js module or process reflection: process[, console.log("},
    {5040, C::CodeInjection, P, "a PHP call as the whole value: strrev(), is_array($x)"},
    {5041, C::CodeInjection, P, "PHP call as a path segment: /phpinfo()"},
    {5042, C::CodeInjection, P, "a php.ini directive set through a value: allow_url_include=1"},
    {5043, C::CodeInjection, P, "PHP tag in BBCode or processing-instruction form: [php], <?xml ("},
    {5044, C::CodeInjection, P, "JavaScript prototype reached through brackets: constructor[prototype]"},
    {5045, C::CodeInjection, P, "PHP callable assembled from arrays or strings and called"},
    {5046, C::CodeInjection, P, "PHP variable call with comments or line breaks before '('"},
    {5047, C::CodeInjection, P, "a data: URL carrying text or script to an include or fetch"},
    {5048, C::CodeInjection, P, "ORM lookup chain across relations in a parameter name"},
    {5049, C::CodeInjection, P, "distinctive PHP function called or assigned, even glued to text"},
    {5050, C::CodeInjection, P, "a snake_case call left open at the end of the value"},
    {5051, C::CodeInjection, P, "prototype reference in a serialized React Server Components chunk"},
    {5052, C::CodeInjection, P, "upload named like a credential or service config: .htaccess"},
    {5053, C::CodeInjection, P, "Node child_process named through a string in the path"},
    {5054, C::CodeInjection, D, "JSON path into an object's prototype: {\"constructor\": {\"prototype\": ...}}"},
    {5055, C::CodeInjection, P, ".NET deserialization gadget type: ObjectDataProvider, ExpandedWrapper, AAEAAAD/////"},
    {5056, C::CodeInjection, P, "Groovy String.execute(); phpinfo or phpcredits as the whole value (a callback parameter)"},

    // --- server-side template injection
    {6001, C::Ssti, P, "{{ }} expression with arithmetic or engine internals: {{7*7}}, {{config}}"},
    {6002, C::Ssti, P, "expression-language arithmetic: ${7*7}, #{7*7}, *{7*7}"},
    {6003, C::Ssti, P, "${ } expression reaching Java: ${T(java..., ${...getClass()"},
    {6004, C::Ssti, P, "template directive of FreeMarker, Velocity, Jinja, Smarty, ERB, Razor"},
    {6005, C::Ssti, P, "wiki script macro with its body: {{groovy}}...{{/groovy}}, {{python}}, {{script language=x}}"},
    {6010, C::Ssti, P, "template control tag: {% if %}, <% for %>"},

    // --- server-side request forgery / remote inclusion
    {7001, C::Ssrf, P, "URL to a loopback, private, link-local, metadata or internal host"},
    {7002, C::Ssrf, P, "cloud metadata address or path: 169.254.169.254, /latest/meta-data"},
    {7003, C::Ssrf, P, "URL with a scheme servers should not fetch: gopher:, dict:, file:, jar:"},
    {7004, C::Ssrf, P, "http(s)/ftp URL whose host is an IPv4 address"},
    {7005, C::Ssrf, P, "URL ending in '?' (remote-inclusion shape)"},
    {7006, C::Ssrf, P, "URL naming a script or web shell (remote-inclusion shape)"},
    {7007, C::Ssrf, P, "loopback host as the value: localhost, 127.0.0.1, [::1]"},
    {7008, C::Ssrf, P, "integer, hex or octal host right after the scheme: http:2852039166"},
    {7020, C::Ssrf, P, "URL host in numeric or obfuscated form"},
    {7021, C::Ssrf, P, "URL with an IPv6 literal host"},
    {7022, C::Ssrf, P, "URL authority confusion: encoded slash in userinfo, several '@'"},
    {7023, C::Ssrf, P, "loopback or container-internal name as a bare host: kubernetes.default"},
    {7024, C::Ssrf, P, "DNS-rebinding service or hex-encoded IPv4 labels as the host"},
    {7025, C::Ssrf, P, "UNC path as the request path: /\\\\host\\share, /%5c%5chost%5cC$"},

    // --- XML external entities
    {8001, C::Xxe, P, "XML entity declaration: <!ENTITY"},
    {8002, C::Xxe, P, "DOCTYPE with an internal subset or an external identifier"},
    {8003, C::Xxe, P, "XInclude or XSLT reading system properties or documents"},
    {8004, C::Xxe, P, "external entity declaration without the '<!': !ENTITY % x SYSTEM"},

    // --- NoSQL injection
    {9001, C::Nosqli, P, "MongoDB operator in a parameter name: user[$ne], $where"},
    {9002, C::Nosqli, P, "MongoDB operator or server-side JavaScript in a value: {\"$gt\":\"\"}"},
    {9003, C::Nosqli, P, "MongoDB operator in brackets inside a value: [$ne]"},
    {9004, C::Nosqli, D, "query comparison every document meets: {\"$gt\": null}, {\"$gte\": \"\"}"},

    // --- LDAP injection
    {10001, C::Ldapi, D, "LDAP filter breakout: an unbalanced ')' then a new filter component"},
    {10002, C::Ldapi, D, "composite LDAP filter inside a value: *(|(mail=*))"},
    {10003, C::Ldapi, D, "wildcard that closes the application's LDAP filter: *)"},
    {10004, C::Ldapi, D, "value made only of LDAP filter metacharacters: *()|&"},
    {10005, C::Ldapi, D, "wildcard with filter metacharacters and at most one word: *)("},

    // --- Log4Shell
    {11001, C::Log4shell, D, "Log4j JNDI lookup after resolving nested lookups: ${jndi:"},
    {11002, C::Log4shell, D, "Log4j lookup that leaks secrets: ${env:, ${sys:, ${java:"},
    {11003, C::Log4shell, D, "obfuscated Log4j lookups: ${${, ${::-, ${lower:"},
    {11004, C::Log4shell, P, "JNDI URL: jndi:ldap:, jndi:rmi:, jndi:dns:"},

    // --- CR/LF injection, response splitting
    {12001, C::Crlf, P, "line break followed by a response header: \\r\\nSet-Cookie:"},
    {12002, C::Crlf, P, "line break followed by a status line: \\r\\nHTTP/1.1 200"},
    {12003, C::Crlf, P, "line break followed by a header line in the path, a name or a header"},
    {12004, C::Crlf, P, "line break in the path or a parameter name"},
    {12005, C::Crlf, P, "line break followed by a parameter: \\nadmin=1"},
    {12006, C::Crlf, P, "line break hidden in a nested escape then a header: %%0a0aSet-Cookie:"},
    {12010, C::Crlf, P, "line break followed by a request header or a response body"},
    {12020, C::Crlf, P, "mail header injection, escaped \\r\\n before a header, U+560A/U+560D"},

    // --- protocol abuse
    {13001, C::Protocol, D, "GET or HEAD request with a chunked body"},
    {13002, C::Protocol, D, "NUL byte (%00) in the query, a cookie or a header"},
    {13003, C::Protocol, D, "Content-Type with malformed parameters or several charsets"},
    {13004, C::Protocol, D, "multipart part with malformed headers or a disallowed charset"},
    {13006, C::Protocol, P, "HTTP request line inside a value (request smuggling / SSRF)"},
    {13007, C::Protocol, D, "Accept-Encoding header longer than 200 bytes"},
    {13008, C::Protocol, P, "unix: socket target followed by '|' (proxy path confusion)"},
    {13009, C::Protocol, D, "RFC 2109 cookie with $Version"},
    {13010, C::Protocol, D, "JavaScript \\u escape of plain ASCII in a query or form value"},
    {13011, C::Protocol, P, "server script with a path parameter ending like a static file: /admin/x.jsp;.js"},
    {13012, C::Protocol, D, "C0 control characters in the query or a cookie"},
    {13013, C::Protocol, D, "Accept charset other than UTF-8, Latin-1 or CP1252"},
    {13014, C::Protocol, P, "printf conversions in a row, reading or writing the stack: %x%x%x%x, %s%s%s%n"},
    {13015, C::Protocol, D, "Accept charset of an EBCDIC code page or UTF-7: a response re-encoded past output filters"},
    {13016, C::Protocol, P, "dot segment inside the path: /./RestAPI/, /mifs/.;/services/"},
    {13020, C::Protocol, D, "session fixation: session cookie name as a parameter, Referer off-site"},
    {13021, C::Protocol, D, "session cookie name as a parameter of a request without Referer"},

    // --- scanners
    {14001, C::Scanner, P, "User-Agent of a security scanner: sqlmap, nikto, nuclei"},
    {14002, C::Scanner, P, "path of an admin console, VCS or developer-tool directory (.git, .cursor) or known probe target"},
    {14003, C::Scanner, P, "path with a backup, config, key or editor-temporary suffix; a database dump or site backup archive"},
    {14004, C::Scanner, P, "path with a Windows executable or legacy handler suffix: .exe, .ida"},
    {14005, C::Scanner, P, "host of an out-of-band interaction service: *.oast.fun, interact.sh, burpcollaborator.net"},

    // --- known exploits (virtual patches)
    {15001, C::CodeInjection, K, "CVE-2017-5638: Struts 2 Jakarta multipart OGNL in Content-Type"},
    {15002, C::CodeInjection, K, "CVE-2022-26134: OGNL expression in the URI (Confluence, Struts)"},
    {15003, C::CodeInjection, K, "CVE-2023-22527: Confluence Velocity template rendered directly"},
    {15004, C::CodeInjection, K, "CVE-2021-26084: Confluence .action parameter breaking into OGNL"},
    {15005, C::CodeInjection, K, "CVE-2023-22515: Confluence setup state reached by a parameter name"},
    {15006, C::CodeInjection, K, "CVE-2022-22965: Spring4Shell binding into class.module.classLoader"},
    {15007, C::CodeInjection, K, "CVE-2022-22963: Spring Cloud Function routing expression header"},
    {15008, C::CodeInjection, K, "CVE-2022-22947: Spring Cloud Gateway route with a SpEL expression"},
    {15009, C::PathTraversal, K, "CVE-2021-41773: Apache 2.4.49/50 encoded dot-segment"},
    {15010, C::PathTraversal, K, "CVE-2019-19781: Citrix ADC /vpns/ by traversal or NSC_USER"},
    {15011, C::PathTraversal, K, "CVE-2020-5902: F5 BIG-IP TMUI '..;' traversal"},
    {15012, C::Protocol, K, "CVE-2022-1388: F5 BIG-IP iControl auth header made hop-by-hop"},
    {15013, C::Ssrf, K, "CVE-2021-34473: Exchange ProxyShell autodiscover.json to a back end"},
    {15014, C::Ssrf, K, "CVE-2021-26855: Exchange ProxyLogon X-BEResource back-end host"},
    {15015, C::CodeInjection, K, "CVE-2017-9841: PHPUnit eval-stdin.php"},
    {15016, C::CodeInjection, K, "CVE-2018-20062: ThinkPHP route naming a namespaced class"},
    {15017, C::CodeInjection, K, "CVE-2018-7600: Drupalgeddon 2 render-array properties"},
    {15018, C::CodeInjection, K, "CVE-2019-16759: vBulletin widget_php rendered with code"},
    {15019, C::CodeInjection, K, "CVE-2020-14882: WebLogic console.portal by traversal or class handle"},
    {15020, C::CodeInjection, K, "CVE-2019-2725: WebLogic XMLDecoder endpoints"},
    {15021, C::Sqli, K, "CVE-2023-34362: MOVEit Transfer internal X-siLock transactions"},
    {15022, C::Rce, K, "CVE-2021-22205: GitLab ExifTool DjVu metadata with Perl"},
    {15023, C::PathTraversal, K, "CVE-2024-23897: Jenkins CLI '@file' argument expansion"},
    {15024, C::CodeInjection, K, "CVE-2018-1000861: Jenkins Stapler routing into script descriptors"},
    {15025, C::Protocol, K, "CVE-2023-28432: MinIO bootstrap verify API"},
    {15026, C::CodeInjection, K, "CVE-2024-4577: php-cgi options in the query string"},
    {15027, C::PathTraversal, K, "CVE-2020-3452: Cisco ASA translation-table file read"},
    {15028, C::CodeInjection, K, "CVE-2017-12615: Tomcat PUT of a JSP with a trailing '/', space"},
    {15029, C::PathTraversal, K, "CVE-2024-3400: PAN-OS session id cookie holding a path"},
    {15030, C::Rce, K, "CVE-2024-21887: Ivanti Connect Secure API traversal to command injection"},
    {15031, C::Rce, K, "CVE-2021-21972: vCenter vROps plugin OVA upload"},
    {15032, C::Protocol, K, "CVE-2024-27198: TeamCity API path dispatched as a JSP"},
    {15033, C::Protocol, K, "CVE-2023-42793: TeamCity user token created through /RPC2"},
    {15034, C::Protocol, K, "CVE-2024-1709: ScreenConnect setup wizard after installation"},
    {15035, C::Protocol, K, "CVE-2023-20198: Cisco IOS XE encoded WSMA path, implant check"},
    {15036, C::Rce, K, "CVE-2025-31324: SAP NetWeaver Visual Composer metadata uploader"},
    {15037, C::Protocol, K, "CVE-2025-53770: SharePoint ToolPane.aspx authentication bypass"},
    {15038, C::Protocol, K, "CVE-2025-29927: Next.js internal subrequest header from a client"},
    {15039, C::Protocol, K, "CVE-2023-4966: Citrix Bleed oversized Host on OpenID configuration"},
    {15040, C::Protocol, K, "CVE-2023-27350: PaperCut SetupCompleted page"},
});

constexpr bool sortedUnique(const auto& rows) {
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i - 1].id >= rows[i].id) {
      return false;
    }
  }
  return true;
}
static_assert(sortedUnique(kRules), "rule registry: ids must be unique and in ascending order");

} // namespace

std::string_view ruleKindName(RuleKind kind) {
  switch (kind) {
  case RuleKind::Pattern:
    return "pattern";
  case RuleKind::Code:
    return "code";
  case RuleKind::KnownExploit:
    return "cve";
  }
  return "unknown";
}

std::span<const RuleInfo> ruleRegistry() { return kRules; }

const RuleInfo* findRule(uint32_t id) {
  const auto it = std::lower_bound(kRules.begin(), kRules.end(), id,
                                   [](const RuleInfo& r, uint32_t v) { return r.id < v; });
  return it != kRules.end() && it->id == id ? &*it : nullptr;
}

std::string_view ruleDescription(uint32_t id) {
  const RuleInfo* r = findRule(id);
  return r != nullptr ? r->description : std::string_view{};
}

Confidence ruleBaseConfidence(uint32_t id) { return internal::ruleConfidence(id); }

} // namespace bulwark::detect
