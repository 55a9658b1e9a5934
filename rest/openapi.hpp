// The OpenAPI 3 document of the REST API (docs/openapi.json, compiled in).
#pragma once

namespace candle {

const char* openapi_json();

} // namespace candle
