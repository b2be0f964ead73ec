// `tidectl dev-broker`: a Kafka-protocol broker on loopback for the demo and tests, backed by
// librdkafka's mock cluster. It speaks the real protocol (produce, fetch, consumer groups,
// offset commits) but keeps everything in memory: it is not a production broker.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "common/config_util.h"
#include "common/file_util.h"
#include "common/stop_signal.h"
#include "ingest/ctl/commands.h"

namespace tide::ctl {

namespace po = boost::program_options;

int RunDevBroker(int argc, const char* const* argv) {
  std::string topics = "tide.documents,tide.documents.dlq";
  int partitions = 3;
  int brokers = 1;
  std::string bootstrap_file;
  po::options_description options("tidectl dev-broker options");
  options.add_options()
      ("topics", po::value(&topics)->default_value(topics), "comma-separated topics to create")
      ("partitions", po::value(&partitions)->default_value(partitions), "partitions per topic")
      ("brokers", po::value(&brokers)->default_value(brokers), "mock brokers in the cluster")
      ("bootstrap-file", po::value(&bootstrap_file), "also write the bootstrap address to this file");
  StopSignal stop;  // before librdkafka starts its threads, so they inherit the signal mask
  Result<po::variables_map> vm = ParseCommandLineAndConfig(
      argc, argv, options, "tidectl dev-broker: a Kafka-protocol broker on loopback (librdkafka mock cluster)");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl dev-broker: " << vm.status().message() << '\n';
    return 2;
  }
  if (partitions < 1 || brokers < 1) {
    std::cerr << "tidectl dev-broker: --partitions and --brokers must be positive\n";
    return 2;
  }

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    std::cerr << "tidectl dev-broker: " << errstr << '\n';
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::cerr << "tidectl dev-broker: cannot start the mock cluster\n";
    rd_kafka_destroy(rk);
    return 1;
  }
  std::stringstream list(topics);
  std::string topic;
  while (std::getline(list, topic, ',')) {
    if (topic.empty()) continue;
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "tidectl dev-broker: creating topic " << topic << ": " << rd_kafka_err2str(err) << '\n';
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(rk);
      return 1;
    }
  }
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  if (!bootstrap_file.empty()) {
    if (Status s = WriteFileAtomic(bootstrap_file, bootstrap + "\n"); !s.ok()) {
      std::cerr << "tidectl dev-broker: " << s.message() << '\n';
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(rk);
      return 1;
    }
  }
  std::cout << "bootstrap.servers=" << bootstrap << std::endl;
  std::cout << "dev broker running (topics " << topics << ", " << partitions
            << " partitions each); stop with SIGINT or SIGTERM" << std::endl;
  stop.Wait();
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}

}  // namespace tide::ctl
