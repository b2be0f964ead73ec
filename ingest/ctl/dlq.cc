// `tidectl dlq`: the dead-letter topic, for operators.
//
//   tidectl dlq --config configs/ingest.conf                 list: one JSON line per message
//   tidectl dlq --config configs/ingest.conf --redrive [--reason-contains TEXT]
//
// Listing reads every partition of kafka.dead_letter_topic from its first retained offset up
// to the end it had when the command started, and prints the headers the worker wrote
// (reason, error class, source topic/partition/offset, time) with the key and the value.
// --redrive publishes the selected messages again, key and value unchanged, to the topic
// they came from (header tide.source.topic), after the cause was fixed: a worker with a
// larger limit, a new embedder, a corrected pipeline re-publishing is not needed. Versions
// make the re-driven events safe to apply late. A dead letter the worker had to cut to fit the
// topic (header tide.truncated) is not the original and is never re-driven: it is counted and
// named, and its source offset says where the original is. Nothing is removed from the dead-letter
// topic (Kafka cannot delete single messages); a re-driven message is tagged with header
// tide.redriven_from on its way back, and re-driving twice sends it twice (harmless for the
// same reason).

#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <boost/program_options.hpp>
#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>

#include "common/utf8.h"
#include "ingest/config.h"
#include "ingest/ctl/commands.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

constexpr int kTimeoutMs = 10000;

std::optional<std::string> Header(RdKafka::Message& m, const std::string& name) {
  const RdKafka::Headers* headers = m.headers();
  if (headers == nullptr) return std::nullopt;
  RdKafka::Headers::Header h = headers->get_last(name);
  if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr) return std::nullopt;
  return std::string(static_cast<const char*>(h.value()), h.value_size());
}

nlohmann::json OrNull(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

// Valid UTF-8 is printed as is; anything else (the reason it was dead-lettered, perhaps)
// with its bytes escaped as \xNN.
std::string Printable(const std::string& bytes) {
  if (utf8::IsValid(bytes)) return bytes;
  std::string out;
  static const char* kHex = "0123456789abcdef";
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

class DeliveryFailures : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) ++failed;
  }
  std::size_t failed = 0;
};

}  // namespace

int RunDlq(int argc, const char* const* argv) {
  bool redrive = false;
  std::string reason_contains;
  std::size_t max_value_bytes = 2000;
  po::options_description extra("tidectl dlq options");
  extra.add_options()
      ("redrive", po::bool_switch(&redrive), "publish the selected messages again to their source topic")
      ("reason-contains", po::value(&reason_contains), "only messages whose tide.reason contains this text")
      ("max-value-bytes", po::value(&max_value_bytes)->default_value(max_value_bytes),
       "when listing, cut values longer than this (0: whole values)");
  Result<ingest::Config> config = ingest::ParseConfig(
      argc, argv, extra, "tidectl dlq --config configs/ingest.conf [--reason-contains TEXT] [--redrive]");
  if (!config) {
    if (config.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl dlq: " << config.status().message() << '\n';
    return 2;
  }
  const ingest::KafkaConfig& kafka = config->kafka;
  const std::string& dlq = kafka.dead_letter_topic;

  ingest::KafkaConfig reader = kafka;
  reader.group_id = kafka.group_id + ".tidectl-dlq";  // never joins: assign() only
  Result<std::unique_ptr<RdKafka::Conf>> conf = ingest::MakeKafkaConf(
      reader, {{"group.id", reader.group_id}, {"enable.auto.commit", "false"}, {"enable.partition.eof", "true"}});
  if (!conf) {
    std::cerr << "tidectl dlq: " << conf.status().message() << '\n';
    return 2;
  }
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!consumer) {
    std::cerr << "tidectl dlq: " << err << '\n';
    return 1;
  }
  DeliveryFailures failures;
  std::unique_ptr<RdKafka::Producer> producer;
  if (redrive) {
    Result<std::unique_ptr<RdKafka::Conf>> pconf =
        ingest::MakeKafkaConf(kafka, {{"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", "20"}});
    if (!pconf || (*pconf)->set("dr_cb", &failures, err) != RdKafka::Conf::CONF_OK) {
      std::cerr << "tidectl dlq: " << (pconf ? err : pconf.status().message()) << '\n';
      return 2;
    }
    producer.reset(RdKafka::Producer::create(pconf->get(), err));
    if (!producer) {
      std::cerr << "tidectl dlq: " << err << '\n';
      return 1;
    }
  }

  // Partitions and where each ends now: messages dead-lettered while we read are left for
  // the next run, so the command always finishes.
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer.get(), dlq, nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode e = handle ? consumer->metadata(false, handle.get(), &raw, kTimeoutMs) : RdKafka::ERR__FAIL;
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (e != RdKafka::ERR_NO_ERROR) {
    std::cerr << "tidectl dlq: metadata of '" << dlq << "': " << (handle ? RdKafka::err2str(e) : err) << '\n';
    return 1;
  }
  std::map<std::int32_t, std::int64_t> end;  // partition -> high watermark at start
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const RdKafka::TopicMetadata* t : *md->topics()) {
    if (t->topic() != dlq || t->err() != RdKafka::ERR_NO_ERROR) continue;
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      std::int64_t low = 0, high = 0;
      e = consumer->query_watermark_offsets(dlq, p->id(), &low, &high, kTimeoutMs);
      if (e != RdKafka::ERR_NO_ERROR) {
        std::cerr << "tidectl dlq: watermarks of partition " << p->id() << ": " << RdKafka::err2str(e) << '\n';
        RdKafka::TopicPartition::destroy(assignment);
        return 1;
      }
      if (high > low) {
        end[p->id()] = high;
        assignment.push_back(RdKafka::TopicPartition::create(dlq, p->id(), low));
      }
    }
  }
  std::size_t seen = 0, selected = 0, sent = 0, truncated = 0;
  if (!assignment.empty()) {
    e = consumer->assign(assignment);
    RdKafka::TopicPartition::destroy(assignment);
    if (e != RdKafka::ERR_NO_ERROR) {
      std::cerr << "tidectl dlq: assign: " << RdKafka::err2str(e) << '\n';
      return 1;
    }
  }
  int idle_polls = 0;
  while (!end.empty()) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(500));
    if (m->err() == RdKafka::ERR__TIMED_OUT) {
      if (++idle_polls * 500 > kTimeoutMs * 3) {
        std::cerr << "tidectl dlq: no progress for 30 s; stopping early\n";
        break;
      }
      continue;
    }
    idle_polls = 0;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      end.erase(m->partition());
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      std::cerr << "tidectl dlq: " << m->errstr() << '\n';
      return 1;
    }
    auto it = end.find(m->partition());
    if (it == end.end()) continue;
    if (m->offset() + 1 >= it->second) end.erase(it);
    ++seen;
    const std::optional<std::string> reason = Header(*m, "tide.reason");
    if (!reason_contains.empty() && (!reason || reason->find(reason_contains) == std::string::npos)) continue;
    ++selected;
    const std::optional<std::string> source_topic = Header(*m, "tide.source.topic");
    std::optional<std::string> key;
    if (m->key() != nullptr) key = *m->key();
    std::optional<std::string> value;
    if (m->payload() != nullptr) value.emplace(static_cast<const char*>(m->payload()), m->len());
    const bool worker_cut = Header(*m, "tide.truncated") == std::optional<std::string>("true");
    if (!redrive) {
      std::string shown = value ? *value : std::string();
      bool cut = max_value_bytes != 0 && shown.size() > max_value_bytes;
      if (cut) shown.resize(max_value_bytes);
      nlohmann::json line = {
          {"partition", m->partition()},
          {"offset", m->offset()},
          {"reason", OrNull(reason)},
          {"error_class", OrNull(Header(*m, "tide.error_class"))},
          {"source", {{"topic", OrNull(source_topic)},
                      {"partition", OrNull(Header(*m, "tide.source.partition"))},
                      {"offset", OrNull(Header(*m, "tide.source.offset"))}}},
          {"dead_lettered_at_ms", OrNull(Header(*m, "tide.dead_lettered_at"))},
          {"key", key ? nlohmann::json(Printable(*key)) : nlohmann::json(nullptr)},
          {"value", value ? nlohmann::json(Printable(shown)) : nlohmann::json(nullptr)},
          {"value_bytes", value ? value->size() : 0},
          {"value_truncated", cut}};
      if (worker_cut) {
        // The worker cut it to fit the topic; the original is at the source offset.
        line["dead_letter_truncated"] = {{"original_value_bytes", OrNull(Header(*m, "tide.original.value_bytes"))},
                                         {"original_value_sha256", OrNull(Header(*m, "tide.original.value_sha256"))}};
      }
      // `replace`: IsValid checks structure only, and a dead letter may hold anything.
      std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      continue;
    }
    if (worker_cut) {
      ++truncated;
      std::cerr << "tidectl dlq: not re-driving partition " << m->partition() << " offset " << m->offset()
                << ": the worker cut it to fit the dead-letter topic; the original is at "
                << source_topic.value_or("?") << "/" << Header(*m, "tide.source.partition").value_or("?") << "@"
                << Header(*m, "tide.source.offset").value_or("?") << '\n';
      continue;
    }
    const std::string target = source_topic.value_or(kafka.topic);
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("tide.redriven_from", dlq + "/" + std::to_string(m->partition()) + "/" + std::to_string(m->offset()));
    for (;;) {
      e = producer->produce(target, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                            value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0,
                            key ? key->data() : nullptr, key ? key->size() : 0, 0, headers);
      if (e != RdKafka::ERR__QUEUE_FULL) break;
      producer->poll(100);
    }
    if (e != RdKafka::ERR_NO_ERROR) {
      delete headers;  // ownership passes to librdkafka only on success
      std::cerr << "tidectl dlq: produce to '" << target << "': " << RdKafka::err2str(e) << '\n';
      return 1;
    }
    ++sent;
    if (sent % 1000 == 0) std::cerr << "tidectl dlq: re-driven " << sent << " so far\n";
  }
  consumer->close();
  if (producer) {
    producer->flush(30000);
    if (producer->outq_len() > 0 || failures.failed > 0) {
      std::cerr << "tidectl dlq: " << producer->outq_len() + static_cast<int>(failures.failed)
                << " re-driven messages were not acknowledged; run it again\n";
      return 1;
    }
  }
  std::cerr << "tidectl dlq: " << seen << " dead letters read, " << selected << " selected"
            << (redrive ? ", " + std::to_string(sent) + " re-driven" : std::string())
            << (truncated ? ", " + std::to_string(truncated) + " cut by the worker and not re-driven" : std::string())
            << '\n';
  return 0;
}

}  // namespace tide::ctl
