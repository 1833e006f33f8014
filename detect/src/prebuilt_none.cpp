// No serialized databases linked in (the rule-database generator itself, or
// -DBULWARK_PREBUILT_RULES=OFF): Engine::create compiles the rules at run time.
#include "ruledb.h"

namespace bulwark::detect::internal {

Prebuilt prebuilt(RuleSet) { return {}; }

} // namespace bulwark::detect::internal
