# An echo upstream for TestRealUpstreams on Python's http.server: the path
# as a Python router reads it (urlsplit, then unquote) and the headers as
# http.client's parser read them.
import http.server, json, sys, urllib.parse


class Echo(http.server.BaseHTTPRequestHandler):
    def answer(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        headers = {}
        for k, v in self.headers.items():
            headers[k] = headers[k] + ", " + v if k in headers else v
        body = json.dumps({"method": self.command, "path": path,
                           "headers": headers}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_OPTIONS = answer

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
