"""Raw client input: inline commands and every malformed frame Redis's protocol code tells apart
(redis networking.c: processInlineBuffer, processMultibulkBuffer, processInputBuffer).

Each entry is (name, bytes as a latin-1 str). Those marked "sticky" leave the connection waiting
for more bytes (an incomplete frame), so whatever the client sends next continues that frame.
"""

BIG = 70000   # beyond PROTO_INLINE_MAX_SIZE (64 KiB)

INLINE = [
    ("inline ping", "PING\r\n"), ("inline lf only", "ping\n"), ("two inline", "PING\r\nECHO hi\r\n"),
    ("empty line", "\r\n"), ("bare lf", "\n"), ("blank line", "   \t \r\n"), ("empty lines then ping", "\r\n\r\nPING\r\n"),
    ("inline set/get", "set ia b\r\nget ia\r\n"), ("inline double quotes", 'set ia "b c"\r\nget ia\r\n'),
    ("inline single quotes", "set ia 'x y'\r\nget ia\r\n"), ("inline hex escape", 'echo "\\x41\\x42\\n\\t"\r\n'),
    ("inline escaped single quote", "echo 'it\\'s'\r\n"), ("inline cr inside", "PING\rPING\r\n"),
    ("inline mixed with multibulk", "PING\r\n*1\r\n$4\r\nPING\r\nPING\r\n"),
    ("inline hello", "hello 3\r\n"), ("inline subscribe", "subscribe ia ib\r\n"),
    ("inline multi", "multi\r\nset ia 1\r\nexec\r\n"), ("inline select", "select 2\r\nget ia\r\nselect 0\r\n"),
    ("inline auth", "auth x\r\n"), ("inline unknown", "nosuch a b c\r\n"), ("inline empty quotes", 'echo ""\r\n'),
    ("big inline, valid", "ECHO " + "y" * 60000 + "\r\n"),
    ("binary line", "\x00\x01\x02\r\n"),
]

MALFORMED = [
    ("unbalanced double quote", 'set ia "b\r\n'), ("closing quote then a letter", 'echo "a"b\r\n'),
    ("unbalanced single quote", "echo 'a\r\n"),
    ("*0", "*0\r\n"), ("*-1", "*-1\r\n"), ("*-10 then PING", "*-10\r\nPING\r\n"), ("*-10 then multibulk", "*-10\r\n*1\r\n$4\r\nPING\r\n"),
    ("*abc", "*abc\r\n"), ("*1x", "*1x\r\n"), ("*05 leading zero", "*05\r\n"), ("*+1", "*+1\r\n$4\r\nPING\r\n"),
    ("* 1", "* 1\r\n"), ("* empty", "*\r\n"), ("*huge", "*99999999999999999999\r\n"), ("*3000000000", "*3000000000\r\n"),
    ("*2147483648", "*2147483648\r\n"),
    ("$abc", "*1\r\n$abc\r\n"), ("$-1 in request", "*1\r\n$-1\r\n"), ("$-5", "*1\r\n$-5\r\n"),
    ("$ beyond proto-max-bulk-len", "*1\r\n$600000000\r\n"), ("$04 leading zero", "*1\r\n$04\r\nPING\r\n"),
    ("$ missing: integer", "*1\r\n:1\r\n"), ("$ missing: bare word", "*2\r\n$3\r\nGET\r\nfoo\r\n"),
    ("$ missing: simple string", "*1\r\n+PING\r\n"),
    ("bulk not followed by CRLF", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n"),
    ("empty command name", "*1\r\n$0\r\n\r\n"), ("echo empty", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"),
    ("too big inline", "x" * BIG), ("too big mbulk count", "*" + "1" * BIG), ("too big bulk count", "*1\r\n$" + "1" * BIG),
    ("resp3 map from a client", "%1\r\n$1\r\na\r\n$1\r\nb\r\n"), ("resp3 set from a client", "~1\r\n$4\r\nPING\r\n"),
    ("resp3 null from a client", "_\r\n"), ("resp3 push from a client", ">1\r\n$4\r\nPING\r\n"),
    ("http get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ("http post", "POST / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("host header", "Host: x\r\n"), ("tls client hello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
]

STICKY = [
    ("incomplete bulk", "*1\r\n$4\r\nPI"), ("incomplete multibulk", "*2\r\n$4\r\nECHO\r\n"),
    ("bulk without its CRLF yet", "*1\r\n$4\r\nPING"), ("multibulk count only", "*1\r\n"),
]

ALL = INLINE + MALFORMED + STICKY
