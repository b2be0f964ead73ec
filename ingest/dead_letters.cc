#include "ingest/dead_letters.h"

#include <algorithm>
#include <vector>

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include "common/digest.h"
#include "common/utf8.h"
#include "ingest/kafka_errors.h"

namespace tide::ingest {
namespace {

using Clock = std::chrono::steady_clock;

// librdkafka's own default for message.max.bytes; below the broker's default topic limit
// (1,048,588), so it is safe when the broker cannot tell us the topic's.
constexpr std::size_t kLibrdkafkaDefaultMaxBytes = 1000000;
// librdkafka refuses message.max.bytes above this.
constexpr std::size_t kLibrdkafkaMaxBytes = 1000000000;
// A record batch's header (61 bytes) and one record's length fields, with room to spare.
constexpr std::size_t kRecordOverhead = 128;
// Per header: the key and value length fields.
constexpr std::size_t kHeaderOverhead = 10;
// A key longer than this is cut when the record must be cut.
constexpr std::size_t kMaxCutKeyBytes = 1024;
// The reason is ours, but may quote the message (a mismatching key): bounded.
constexpr std::size_t kMaxReasonBytes = 2048;

// The first `n` bytes of `s`, moved back to a code point boundary when `s` is UTF-8.
std::string_view Prefix(std::string_view s, std::size_t n) {
  if (n >= s.size()) return s;
  while (n > 0 && utf8::IsContinuation(s[n])) --n;
  return s.substr(0, n);
}

struct Letter {
  KafkaMessage message;
  std::string reason;
  std::string error_class;
  std::size_t value_budget = SIZE_MAX;  // bytes of the value to send; SIZE_MAX: fit to the limit
  enum class State { kToSend, kInFlight, kDelivered, kFailed } state = State::kToSend;
  RdKafka::ErrorCode error = RdKafka::ERR_NO_ERROR;
  std::string error_text;
  std::size_t sent_value_bytes = 0;
};

// A record's opaque: the Flush round it belongs to (high 32 bits) and its letter's index.
void* Opaque(std::uint32_t round, std::size_t index) {
  return reinterpret_cast<void*>((static_cast<std::uintptr_t>(round) << 32) | index);
}

class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  DeliveryTracker(std::vector<Letter>* letters, const std::uint32_t* round) : letters_(letters), round_(round) {}
  void dr_cb(RdKafka::Message& message) override {
    const auto opaque = reinterpret_cast<std::uintptr_t>(message.msg_opaque());
    const std::size_t index = opaque & 0xffffffffu;
    // A report from a Flush that already gave up on its letters belongs to none of these.
    if ((opaque >> 32) != *round_ || index >= letters_->size()) return;
    Letter& letter = (*letters_)[index];
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      letter.state = Letter::State::kDelivered;
    } else {
      letter.state = Letter::State::kFailed;
      letter.error = message.err();
      letter.error_text = message.errstr();
    }
  }

 private:
  std::vector<Letter>* letters_;
  const std::uint32_t* round_;
};

static_assert(sizeof(void*) == 8, "a record's opaque holds a 32-bit round and a 32-bit index");

}  // namespace

struct DeadLetterProducer::Impl {
  std::string topic;
  std::size_t max_bytes = kLibrdkafkaDefaultMaxBytes;
  std::string max_bytes_source;
  std::vector<Letter> letters;  // since the last Flush
  std::uint32_t round = 0;      // Flush calls so far (64-bit pointers: 32 bits of round, 32 of index)
  DeliveryTracker tracker{&letters, &round};  // declared before the producer, which calls into it
  std::unique_ptr<RdKafka::Producer> producer;

  // Queues one record for `letter`, cut to its budget. A local refusal is recorded in the
  // letter's state, as a delivery failure would be.
  void Produce(std::size_t index) {
    Letter& letter = letters[index];
    const KafkaMessage& m = letter.message;
    std::vector<std::pair<std::string, std::string>> headers = {
        {"tide.reason", std::string(Prefix(letter.reason, kMaxReasonBytes))},
        {"tide.error_class", letter.error_class},
        {"tide.source.topic", m.topic},
        {"tide.source.partition", std::to_string(m.partition)},
        {"tide.source.offset", std::to_string(m.offset)},
        {"tide.dead_lettered_at", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count())},
    };
    const std::string_view key = m.key ? std::string_view(*m.key) : std::string_view();
    const std::string_view value = m.value ? std::string_view(*m.value) : std::string_view();
    auto size_of = [&](std::string_view k, std::size_t value_bytes) {
      std::size_t n = kRecordOverhead + k.size() + value_bytes;
      for (const auto& [hk, hv] : headers) n += hk.size() + hv.size() + kHeaderOverhead;
      return n;
    };
    std::string_view key_sent = key;
    std::string_view value_sent = value;
    if (letter.value_budget < value.size() || size_of(key, value.size()) > max_bytes) {
      // Cut: say so, and what the original was, then give the value what room is left.
      headers.emplace_back("tide.truncated", "true");
      headers.emplace_back("tide.original.value_bytes", std::to_string(value.size()));
      headers.emplace_back("tide.original.value_sha256", Sha256Hex(value));
      if (key.size() > kMaxCutKeyBytes) {
        headers.emplace_back("tide.original.key_bytes", std::to_string(key.size()));
        headers.emplace_back("tide.original.key_sha256", Sha256Hex(key));
        key_sent = Prefix(key, kMaxCutKeyBytes);
      }
      const std::size_t fixed = size_of(key_sent, 0);
      const std::size_t room = fixed < max_bytes ? max_bytes - fixed : 0;
      value_sent = Prefix(value, std::min(room, letter.value_budget));
    }
    letter.sent_value_bytes = value_sent.size();
    RdKafka::Headers* h = RdKafka::Headers::create();
    for (const auto& [hk, hv] : headers) h->add(hk, hv);
    for (;;) {
      RdKafka::ErrorCode err = producer->produce(
          topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          m.value ? const_cast<char*>(value_sent.data()) : nullptr, m.value ? value_sent.size() : 0,
          m.key ? key_sent.data() : nullptr, m.key ? key_sent.size() : 0, /*timestamp=*/0, h,
          Opaque(round, index));
      if (err == RdKafka::ERR_NO_ERROR) {  // the headers now belong to librdkafka
        letter.state = Letter::State::kInFlight;
        producer->poll(0);
        return;
      }
      if (err == RdKafka::ERR__QUEUE_FULL) {
        producer->poll(100);  // deliveries make room
        continue;
      }
      delete h;
      letter.state = Letter::State::kFailed;
      letter.error = err;
      letter.error_text = RdKafka::err2str(err);
      return;
    }
  }
};

DeadLetterProducer::DeadLetterProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeadLetterProducer::~DeadLetterProducer() {
  if (impl_->producer) impl_->producer->flush(5000);
}

std::size_t DeadLetterProducer::max_message_bytes() const { return impl_->max_bytes; }
const std::string& DeadLetterProducer::max_message_bytes_source() const { return impl_->max_bytes_source; }

Result<std::unique_ptr<DeadLetterProducer>> DeadLetterProducer::Create(const KafkaConfig& config,
                                                                       const Options& options, KafkaAdmin* admin) {
  auto impl = std::make_unique<Impl>();
  impl->topic = config.dead_letter_topic;
  impl->max_bytes_source = "librdkafka message.max.bytes default";
  if (options.max_message_bytes > 0) {
    impl->max_bytes = options.max_message_bytes;
    impl->max_bytes_source = "kafka.dead_letter_max_bytes";
  } else if (admin) {
    Result<std::map<std::string, std::string>> configs = admin->TopicConfigs(config.dead_letter_topic);
    if (configs) {
      auto it = configs->find("max.message.bytes");
      if (it != configs->end()) {
        try {
          impl->max_bytes = std::stoull(it->second);
          impl->max_bytes_source = "topic max.message.bytes";
        } catch (const std::exception&) {
          spdlog::warn("dead-letter topic {}: max.message.bytes '{}' is not a number; using {}", impl->topic,
                       it->second, impl->max_bytes);
        }
      }
    } else if (configs.status().code() != Status::Code::kUnimplemented) {
      spdlog::warn("dead-letter topic {}: cannot read its max.message.bytes ({}); using {}", impl->topic,
                   configs.status().message(), impl->max_bytes);
    }
  }
  impl->max_bytes = std::clamp<std::size_t>(impl->max_bytes, 1024, kLibrdkafkaMaxBytes);
  const std::string max = std::to_string(impl->max_bytes);
  Result<std::unique_ptr<RdKafka::Conf>> conf = MakeKafkaConf(
      config, {{"acks", "all"},
               {"linger.ms", "5"},
               // Never more than the topic takes, for one record or a batch of them.
               {"message.max.bytes", max},
               {"batch.size", std::to_string(std::min<std::size_t>(impl->max_bytes, kLibrdkafkaDefaultMaxBytes))}});
  if (!conf) return conf.status();
  std::string err;
  if ((*conf)->set("dr_cb", &impl->tracker, err) != RdKafka::Conf::CONF_OK) {
    return Status::Internal("dr_cb: " + err);
  }
  impl->producer.reset(RdKafka::Producer::create(conf->get(), err));
  if (!impl->producer) return Status::InvalidArgument("creating dead-letter producer: " + err);
  spdlog::info("dead-letter producer topic={} max_message_bytes={} ({})", impl->topic, impl->max_bytes,
               impl->max_bytes_source);
  return std::unique_ptr<DeadLetterProducer>(new DeadLetterProducer(std::move(impl)));
}

void DeadLetterProducer::Send(const KafkaMessage& message, const std::string& reason,
                              const std::string& error_class) {
  Letter letter;
  letter.message = message;
  letter.reason = reason;
  letter.error_class = error_class;
  impl_->letters.push_back(std::move(letter));
  impl_->Produce(impl_->letters.size() - 1);
}

Status DeadLetterProducer::Flush(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  const auto deadline = Clock::now() + timeout;
  Status result;
  for (;;) {
    bool in_flight = false;
    for (std::size_t i = 0; i < s.letters.size(); ++i) {
      Letter& letter = s.letters[i];
      if (letter.state == Letter::State::kToSend) s.Produce(i);
      in_flight |= letter.state == Letter::State::kInFlight;
    }
    if (in_flight) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (s.producer->flush(static_cast<int>(std::max<std::int64_t>(left.count(), 0))) != RdKafka::ERR_NO_ERROR) {
        result = Status::Unavailable("dead letters not acknowledged within " + std::to_string(timeout.count()) + " ms");
        break;
      }
    }
    bool resend = false;
    for (Letter& letter : s.letters) {
      if (letter.state != Letter::State::kFailed) continue;
      switch (ClassifyKafkaError(letter.error)) {
        case KafkaErrorClass::kTooLarge:
          // The broker's limit is below what we were told (or the framing above our estimate).
          if (letter.sent_value_bytes == 0) {
            result = Status::InvalidArgument(
                "the dead-letter topic " + s.topic + " refuses even a dead letter without its value (" +
                letter.error_text + "); raise the topic's max.message.bytes");
            break;
          }
          spdlog::warn("dead letter of {}/{}@{} refused as too large at {} value bytes; sending {}",
                       letter.message.topic, letter.message.partition, letter.message.offset,
                       letter.sent_value_bytes, letter.sent_value_bytes / 2);
          letter.value_budget = letter.sent_value_bytes / 2;
          letter.state = Letter::State::kToSend;
          resend = true;
          break;
        case KafkaErrorClass::kRetriable:
          if (result.ok()) result = Status::Unavailable("dead letter not delivered: " + letter.error_text);
          break;
        case KafkaErrorClass::kMissing:
        case KafkaErrorClass::kFatal:
          result = KafkaErrorStatus(letter.error, "producing to the dead-letter topic " + s.topic);
          break;
      }
      if (!result.ok() && result.code() != Status::Code::kUnavailable) break;
    }
    if (!result.ok() || !resend) break;
    if (Clock::now() >= deadline) {
      result = Status::Unavailable("dead letters not acknowledged within " + std::to_string(timeout.count()) + " ms");
      break;
    }
  }
  if (!result.ok()) {
    // Whatever is still in flight reports into nothing: the caller sends the batch's dead
    // letters again (a dead letter may then appear twice, never zero times).
    s.producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    s.producer->poll(0);
  }
  s.letters.clear();
  ++s.round;
  return result;
}

}  // namespace tide::ingest
