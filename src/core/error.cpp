#include "virtform/error.h"

#include <utility>

namespace virtform {

AdapterError::AdapterError(std::string object, std::string operation, std::string detail, int code)
    : Error(operation + " " + object + ": " + detail),
      object_(std::move(object)),
      operation_(std::move(operation)),
      detail_(std::move(detail)),
      code_(code) {}

}  // namespace virtform
