// conf/prices.yaml, compiled in (the built-in price table read by filters/limits_store).
#pragma once

#include <string_view>

namespace sluice {
std::string_view embedded_prices_yaml();
}
