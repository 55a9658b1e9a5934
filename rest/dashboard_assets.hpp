// The dashboard's page, script and style sheet (node/dashboard/, compiled in).
#pragma once

namespace candle {

const char* dashboard_html();
const char* dashboard_js();
const char* dashboard_css();

} // namespace candle
