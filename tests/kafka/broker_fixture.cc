#include "tests/kafka/broker_fixture.h"

namespace tide {

// Registered once for the binary: gtest starts the broker before the first test.
const auto* const kBrokerEnvironment = ::testing::AddGlobalTestEnvironment(new BrokerEnvironment);

}  // namespace tide
