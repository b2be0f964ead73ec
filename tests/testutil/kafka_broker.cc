#include "tests/testutil/kafka_broker.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace tide::testutil {
namespace {

bool Answers(const std::string& bootstrap) {
  std::string e;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, e);
  conf->set("log_level", "0", e);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), e));
  if (!p) return false;
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = p->metadata(true, nullptr, &raw, 2000);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  return err == RdKafka::ERR_NO_ERROR && md && !md->brokers()->empty();
}

}  // namespace

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::unique_ptr<KafkaBroker> KafkaBroker::Start(const std::filesystem::path& lib_dir, const std::filesystem::path& dir,
                                                std::string* error, const std::map<std::string, std::string>& overrides) {
  if (!std::filesystem::exists(lib_dir / "kafka-server-4.1.1.jar") &&
      !std::filesystem::exists(lib_dir / "kafka_2.13-4.1.1.jar")) {
    *error = "no Kafka jars in " + lib_dir.string() + ": run deploy/setup.sh (it resolves them with Maven)";
    return nullptr;
  }
  std::filesystem::create_directories(dir);
  const int port = FreeLoopbackPort();
  const int controller = FreeLoopbackPort();
  std::map<std::string, std::string> props = {
      {"process.roles", "broker,controller"},
      {"node.id", "1"},
      {"controller.quorum.voters", "1@127.0.0.1:" + std::to_string(controller)},
      {"listeners", "PLAINTEXT://127.0.0.1:" + std::to_string(port) + ",CONTROLLER://127.0.0.1:" +
                        std::to_string(controller)},
      {"advertised.listeners", "PLAINTEXT://127.0.0.1:" + std::to_string(port)},
      {"controller.listener.names", "CONTROLLER"},
      {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
      {"inter.broker.listener.name", "PLAINTEXT"},
      {"log.dirs", (dir / "data").string()},
      {"offsets.topic.replication.factor", "1"},
      {"offsets.topic.num.partitions", "3"},
      {"transaction.state.log.replication.factor", "1"},
      {"transaction.state.log.min.isr", "1"},
      {"group.initial.rebalance.delay.ms", "0"},
      {"auto.create.topics.enable", "false"},
      {"num.partitions", "1"},
  };
  for (const auto& [k, v] : overrides) props[k] = v;
  const std::filesystem::path properties = dir / "server.properties";
  {
    std::ofstream out(properties);
    for (const auto& [k, v] : props) out << k << '=' << v << '\n';
  }
  const std::string classpath = (lib_dir / "*").string();
  CommandResult format = RunCommand({"java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t",
                                     "dGlkZS10ZXN0LWNsdXN0ZQ", "-c", properties.string()},
                                    std::chrono::seconds(120));
  if (format.exit_code != 0) {
    *error = "formatting the Kafka log dir failed: " + format.output;
    return nullptr;
  }
  std::unique_ptr<KafkaBroker> broker(new KafkaBroker());
  broker->process_ = std::make_unique<Process>(
      std::vector<std::string>{"java", "-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-cp", classpath, "kafka.Kafka",
                               properties.string()},
      dir / "broker.log");
  broker->bootstrap_ = "127.0.0.1:" + std::to_string(port);
  const bool up = WaitFor(
      [&] {
        if (!broker->process_->running()) return true;
        return Answers(broker->bootstrap_);
      },
      std::chrono::seconds(120));
  if (!up || !broker->process_->running()) {
    *error = "the Kafka broker did not come up: " + broker->process_->Log().substr(0, 4000);
    return nullptr;
  }
  broker->client_ = std::make_unique<KafkaTestClient>(broker->bootstrap_);
  return broker;
}

KafkaBroker::~KafkaBroker() {
  client_.reset();
  if (process_ && process_->running()) {
    process_->Signal(SIGTERM);
    if (!process_->Wait(std::chrono::seconds(20))) process_->Signal(SIGKILL);
  }
}

}  // namespace tide::testutil
