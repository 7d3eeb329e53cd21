<?php
// An echo upstream for TestRealUpstreams under PHP's built-in server: the
// path as a PHP router reads it (REQUEST_URI's path, rawurldecode'd) and
// the headers as $_SERVER holds them (HTTP_*, '-' read as '_').
$h = [];
foreach ($_SERVER as $k => $v) {
    if (strncmp($k, 'HTTP_', 5) === 0) {
        $h[$k] = $v;
    }
}
header('Content-Type: application/json');
echo json_encode([
    'method' => $_SERVER['REQUEST_METHOD'],
    'path' => rawurldecode((string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)),
    'headers' => $h,
]);
