<?php
// A plain PHP service for scan/php_test.go, run by PHP's built-in server
// (php -S 127.0.0.1:PORT router.php) behind an mTLS front that forwards
// the certificate's subject as X-Client-Subject. The client certificate
// is the only authentication; each endpoint checks the request's origin
// its own way. State: a balance in the file $FORGEPROOF_STATE.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$file = getenv('FORGEPROOF_STATE') ?: sys_get_temp_dir() . '/forgeproof-php-' . $_SERVER['SERVER_PORT'];
$balance = file_exists($file) ? (int) file_get_contents($file) : 1000;
$origin = $_SERVER['HTTP_ORIGIN'] ?? null;
$self = 'https://' . $_SERVER['HTTP_HOST'];

function refuse($why) {
    http_response_code(403);
    echo $why;
    exit;
}

if (empty($_SERVER['HTTP_X_CLIENT_SUBJECT'])) {
    refuse('no certificate');
}
if ($path === '/api/balance') {
    header('Content-Type: application/json');
    echo json_encode(['balance' => $balance]);
    exit;
}
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    echo '<p>hello</p>';
    exit;
}
switch ($path) {
case '/open': // no check at all
    break;
case '/prefix': // the configured site URL, as a prefix
    if (!str_starts_with($origin ?? '', 'https://localhost')) {
        refuse('bad origin');
    }
    break;
case '/suffix': // the Origin's host must end with the site's domain
    if (!str_ends_with((string) parse_url($origin ?? '', PHP_URL_HOST), 'localhost')) {
        refuse('bad origin');
    }
    break;
case '/regex': // an unanchored pattern
    if (!preg_match('#https://localhost#', $origin ?? '')) {
        refuse('bad origin');
    }
    break;
case '/referer': // the Referer alone, skipped when there is none
    $ref = $_SERVER['HTTP_REFERER'] ?? null;
    if ($ref !== null && !str_starts_with($ref, $self . '/')) {
        refuse('bad referer');
    }
    break;
case '/if-origin': // a missing Origin passes (no browser of today omits it on a POST)
    if ($origin !== null && $origin !== $self) {
        refuse('bad origin');
    }
    break;
case '/exact': // the whole Origin compared: the allowed twin
    if ($origin !== $self) {
        refuse('bad origin');
    }
    break;
default:
    http_response_code(404);
    exit;
}
$balance -= (int) ($_POST['amount'] ?? 0);
file_put_contents($file, (string) $balance);
echo "<p>sent; balance $balance</p>";
