#include "mock/mock_types.h"

namespace sluice::mock {

std::string_view MockRequest::header(std::string_view lower_name) const {
  for (const auto& h : headers) {
    if (h.name == lower_name) return h.value;
  }
  return {};
}

bool MockRequest::has_header(std::string_view lower_name) const {
  for (const auto& h : headers) {
    if (h.name == lower_name) return true;
  }
  return false;
}

std::string_view MockRequest::path() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

}  // namespace sluice::mock
