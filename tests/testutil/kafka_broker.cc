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

// How many brokers the cluster at `bootstrap` lists; 0 when it does not answer.
std::size_t Brokers(const std::string& bootstrap) {
  std::string e;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, e);
  conf->set("log_level", "0", e);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), e));
  if (!p) return 0;
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = p->metadata(true, nullptr, &raw, 2000);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  return err == RdKafka::ERR_NO_ERROR && md ? md->brokers()->size() : 0;
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
                                                std::string* error, const std::map<std::string, std::string>& overrides,
                                                int nodes) {
  if (!std::filesystem::exists(lib_dir / "kafka-server-4.1.1.jar") &&
      !std::filesystem::exists(lib_dir / "kafka_2.13-4.1.1.jar")) {
    *error = "no Kafka jars in " + lib_dir.string() + ": run deploy/setup.sh (it resolves them with Maven)";
    return nullptr;
  }
  std::unique_ptr<KafkaBroker> broker(new KafkaBroker());
  broker->lib_dir_ = lib_dir;
  broker->dir_ = dir;
  std::vector<int> ports, controllers;
  std::string voters;
  for (int i = 0; i < nodes; ++i) {
    ports.push_back(FreeLoopbackPort());
    controllers.push_back(FreeLoopbackPort());
    voters += (i ? "," : "") + std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(controllers.back());
  }
  // Internal topics replicated to every node of a cluster, so that one of three may die.
  const std::string replicas = std::to_string(std::min(nodes, 3));
  const std::string min_isr = nodes >= 3 ? "2" : "1";
  const std::string classpath = (lib_dir / "*").string();
  for (int i = 0; i < nodes; ++i) {
    const std::filesystem::path node_dir = nodes == 1 ? dir : dir / ("node-" + std::to_string(i + 1));
    std::filesystem::create_directories(node_dir);
    std::map<std::string, std::string> props = {
        {"process.roles", "broker,controller"},
        {"node.id", std::to_string(i + 1)},
        {"controller.quorum.voters", voters},
        {"listeners", "PLAINTEXT://127.0.0.1:" + std::to_string(ports[i]) + ",CONTROLLER://127.0.0.1:" +
                          std::to_string(controllers[i])},
        {"advertised.listeners", "PLAINTEXT://127.0.0.1:" + std::to_string(ports[i])},
        {"controller.listener.names", "CONTROLLER"},
        {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
        {"inter.broker.listener.name", "PLAINTEXT"},
        {"log.dirs", (node_dir / "data").string()},
        {"offsets.topic.replication.factor", replicas},
        {"offsets.topic.num.partitions", "3"},
        {"transaction.state.log.replication.factor", replicas},
        {"transaction.state.log.min.isr", min_isr},
        {"default.replication.factor", replicas},
        {"min.insync.replicas", min_isr},
        {"group.initial.rebalance.delay.ms", "0"},
        {"auto.create.topics.enable", "false"},
        {"num.partitions", "1"},
    };
    for (const auto& [k, v] : overrides) props[k] = v;
    const std::filesystem::path properties = node_dir / "server.properties";
    {
      std::ofstream out(properties);
      for (const auto& [k, v] : props) out << k << '=' << v << '\n';
    }
    CommandResult format = RunCommand({"java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t",
                                       "dGlkZS10ZXN0LWNsdXN0ZQ", "-c", properties.string()},
                                      std::chrono::seconds(120));
    if (format.exit_code != 0) {
      *error = "formatting the Kafka log dir failed: " + format.output;
      return nullptr;
    }
    broker->properties_.push_back(properties);
    broker->addresses_.push_back("127.0.0.1:" + std::to_string(ports[i]));
    broker->bootstrap_ += (i ? "," : "") + broker->addresses_.back();
  }
  for (int i = 0; i < nodes; ++i) broker->processes_.push_back(broker->StartNode(i));
  const bool up = WaitFor(
      [&] {
        for (const auto& p : broker->processes_) {
          if (!p->running()) return true;
        }
        return Brokers(broker->bootstrap_) == static_cast<std::size_t>(nodes);
      },
      std::chrono::seconds(120));
  for (const auto& p : broker->processes_) {
    if (!up || !p->running()) {
      *error = "a Kafka node did not come up: " + p->Log().substr(0, 4000);
      return nullptr;
    }
  }
  broker->client_ = std::make_unique<KafkaTestClient>(broker->bootstrap_);
  return broker;
}

std::unique_ptr<Process> KafkaBroker::StartNode(int i) const {
  return std::make_unique<Process>(
      std::vector<std::string>{"java", "-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-cp", (lib_dir_ / "*").string(),
                               "kafka.Kafka", properties_[i].string()},
      properties_[i].parent_path() / "broker.log");
}

std::string KafkaBroker::Log() const {
  std::string out;
  for (std::size_t i = 0; i < processes_.size(); ++i) {
    if (processes_.size() > 1) out += "--- node " + std::to_string(i + 1) + " ---\n";
    out += processes_[i]->Log();
  }
  return out;
}

void KafkaBroker::Kill(int i) {
  processes_[i]->Signal(SIGKILL);
  processes_[i]->Wait(std::chrono::seconds(20));
}

bool KafkaBroker::Restart(int i) {
  processes_[i] = StartNode(i);
  return WaitFor([&] { return Brokers(bootstrap_) == processes_.size(); }, std::chrono::seconds(120));
}

KafkaBroker::~KafkaBroker() {
  client_.reset();
  for (auto& process : processes_) {
    if (process && process->running()) process->Signal(SIGTERM);
  }
  for (auto& process : processes_) {
    if (process && process->running() && !process->Wait(std::chrono::seconds(20))) process->Signal(SIGKILL);
  }
}

}  // namespace tide::testutil
