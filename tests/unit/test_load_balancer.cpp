// Load balancers: rotation, uniformity, least pending, the consistent-hash ring (stability,
// spread, minimal movement on change, key extraction) and `avoid` for every balancer.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "backends/load_balancer.h"

using namespace rpcgate;
using namespace rpcgate::backends;

namespace {

constexpr size_t kNone = LoadBalancer::kNone;

std::vector<EndpointView> all_usable(size_t n) { return std::vector<EndpointView>(n, EndpointView{true, 0}); }

std::vector<std::string> names_of(std::initializer_list<const char*> names) { return {names.begin(), names.end()}; }

void reset_equal(LoadBalancer& balancer, const std::vector<std::string>& names) {
  balancer.reset(names, std::vector<unsigned>(names.size(), 1));
}

Request with_params(Json params) {
  Request request;
  request.method = "get";
  request.params = std::move(params);
  return request;
}

std::unique_ptr<LoadBalancer> make(std::string_view name, const std::vector<std::string>& names,
                                   std::string_view hash_key = "") {
  auto balancer = make_load_balancer(name, hash_key);
  REQUIRE(balancer);
  reset_equal(*balancer, names);
  return balancer;
}

const std::vector<std::string> kFour = names_of({"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379", "10.0.0.4:6379"});

// The endpoint name each of `count` distinct keys maps to.
std::vector<std::string> map_keys(LoadBalancer& balancer, const std::vector<std::string>& names,
                                  std::span<const EndpointView> endpoints, int count) {
  std::vector<std::string> owners;
  for (int i = 0; i < count; ++i) {
    const size_t chosen = balancer.pick(with_params("key:" + std::to_string(i)), endpoints, kNone);
    REQUIRE(chosen < names.size());
    owners.push_back(names[chosen]);
  }
  return owners;
}

}  // namespace

TEST_CASE("an unknown balancer name yields nullptr; every balancer answers kNone for no endpoints") {
  CHECK(make_load_balancer("weighted", "") == nullptr);
  for (const char* name : {"round_robin", "random", "least_pending", "consistent_hash"}) {
    CAPTURE(name);
    auto balancer = make(name, {});
    CHECK(balancer->pick(with_params("k"), {}, kNone) == kNone);
    reset_equal(*balancer, kFour);
    std::vector<EndpointView> down(4, EndpointView{false, 0});
    CHECK(balancer->pick(with_params("k"), down, kNone) == kNone);
    CHECK(balancer->pick(with_params("k"), down, 2) == kNone);
  }
}

TEST_CASE("round robin cycles, skips unusable endpoints and avoids the previous one") {
  auto rr = make("round_robin", names_of({"a", "b", "c"}));
  auto endpoints = all_usable(3);
  const Request request = with_params("k");
  std::vector<size_t> seen;
  for (int i = 0; i < 7; ++i) seen.push_back(rr->pick(request, endpoints, kNone));
  CHECK(seen == std::vector<size_t>{0, 1, 2, 0, 1, 2, 0});

  endpoints[2].usable = false;  // the cursor is after 0
  seen.clear();
  for (int i = 0; i < 4; ++i) seen.push_back(rr->pick(request, endpoints, kNone));
  CHECK(seen == std::vector<size_t>{1, 0, 1, 0});

  // Next in turn is 1; avoiding it gives 0, and the rotation continues after 0.
  CHECK(rr->pick(request, endpoints, 1) == 0);
  CHECK(rr->pick(request, endpoints, kNone) == 1);
  endpoints[0].usable = false;
  CHECK(rr->pick(request, endpoints, 1) == 1);  // the only usable one
  endpoints[1].usable = false;
  CHECK(rr->pick(request, endpoints, kNone) == kNone);
}

TEST_CASE("round robin stays in range when the set shrinks") {
  auto rr = make("round_robin", names_of({"a", "b", "c", "d", "e"}));
  auto five = all_usable(5);
  for (int i = 0; i < 4; ++i) rr->pick(with_params("k"), five, kNone);  // cursor now at 4
  reset_equal(*rr, names_of({"a", "b"}));
  auto two = all_usable(2);
  std::vector<size_t> seen;
  for (int i = 0; i < 4; ++i) seen.push_back(rr->pick(with_params("k"), two, kNone));
  for (size_t s : seen) CHECK(s < 2);
  CHECK(seen[0] != seen[1]);
  CHECK(seen[1] != seen[2]);
}

TEST_CASE("random is uniform over usable endpoints and never picks an unusable one") {
  auto random = make("random", names_of({"a", "b", "c", "d"}));
  auto endpoints = all_usable(4);
  endpoints[1].usable = false;
  std::map<size_t, int> counts;
  for (int i = 0; i < 3000; ++i) ++counts[random->pick(with_params("k"), endpoints, kNone)];
  CHECK(counts.count(1) == 0);
  CHECK(counts.size() == 3);
  for (size_t i : {0u, 2u, 3u}) {
    CAPTURE(i);
    CHECK(counts[i] >= 700);
    CHECK(counts[i] <= 1300);
  }
}

TEST_CASE("random avoids the previous endpoint unless it is the only usable one") {
  auto random = make("random", names_of({"a", "b", "c"}));
  auto endpoints = all_usable(3);
  std::map<size_t, int> counts;
  for (int i = 0; i < 300; ++i) ++counts[random->pick(with_params("k"), endpoints, 2)];
  CHECK(counts.count(2) == 0);
  CHECK(counts[0] > 0);
  CHECK(counts[1] > 0);
  endpoints[0].usable = endpoints[1].usable = false;
  CHECK(random->pick(with_params("k"), endpoints, 2) == 2);
}

TEST_CASE("least pending picks the minimum, shares ties and avoids the previous endpoint") {
  auto lp = make("least_pending", names_of({"a", "b", "c"}));
  std::vector<EndpointView> endpoints{{true, 5}, {true, 2}, {true, 7}};
  for (int i = 0; i < 6; ++i) CHECK(lp->pick(with_params("k"), endpoints, kNone) == 1);
  endpoints[1].usable = false;
  CHECK(lp->pick(with_params("k"), endpoints, kNone) == 0);
  endpoints[1].usable = true;
  CHECK(lp->pick(with_params("k"), endpoints, 1) == 0);  // next best
  endpoints[0].usable = endpoints[2].usable = false;
  CHECK(lp->pick(with_params("k"), endpoints, 1) == 1);  // the only usable one

  std::vector<EndpointView> equal{{true, 3}, {true, 3}, {true, 3}};
  std::map<size_t, int> counts;
  for (int i = 0; i < 30; ++i) ++counts[lp->pick(with_params("k"), equal, kNone)];
  CHECK(counts.size() == 3);
  for (const auto& [index, count] : counts) CHECK(count >= 5);
}

TEST_CASE("consistent hash: a key always maps to the same endpoint, in any balancer instance") {
  auto a = make("consistent_hash", kFour);
  auto b = make("consistent_hash", kFour);
  auto endpoints = all_usable(4);
  for (int i = 0; i < 200; ++i) {
    const Request request = with_params("user:" + std::to_string(i));
    const size_t first = a->pick(request, endpoints, kNone);
    CHECK(a->pick(request, endpoints, kNone) == first);
    CHECK(b->pick(request, endpoints, kNone) == first);
  }
}

TEST_CASE("consistent hash: the first argument is the key, so get k and set k v meet") {
  auto ch = make("consistent_hash", kFour);
  auto endpoints = all_usable(4);
  std::map<size_t, int> firsts;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "k" + std::to_string(i);
    const size_t get = ch->pick(with_params(key), endpoints, kNone);
    CHECK(ch->pick(with_params(Json::array({key, "v"})), endpoints, kNone) == get);
    CHECK(ch->pick(with_params(Json::array({key})), endpoints, kNone) == get);
    // Integers hash as their text: 7 and "7" meet.
    CHECK(ch->pick(with_params(i), endpoints, kNone) == ch->pick(with_params(std::to_string(i)), endpoints, kNone));
    CHECK(ch->pick(with_params(static_cast<uint64_t>(i)), endpoints, kNone) ==
          ch->pick(with_params(Json::array({i, "x"})), endpoints, kNone));
    ++firsts[ch->pick(with_params(Json::array({key, "same"})), endpoints, kNone)];
  }
  CHECK(firsts.size() == 4);  // the second argument does not decide
  // Other value types hash too (their JSON text) and the empty array is params itself.
  CHECK(ch->pick(with_params(Json::array()), endpoints, kNone) < 4);
  CHECK(ch->pick(with_params(Json{{"a", 1}}), endpoints, kNone) < 4);
  CHECK(ch->pick(with_params(Json::binary({1, 2, 3})), endpoints, kNone) < 4);
  CHECK(ch->pick(with_params(nullptr), endpoints, kNone) < 4);
}

TEST_CASE("consistent hash spreads 10,000 keys over 4 endpoints") {
  auto ch = make("consistent_hash", kFour);
  auto endpoints = all_usable(4);
  std::map<std::string, int> counts;
  for (const auto& owner : map_keys(*ch, kFour, endpoints, 10000)) ++counts[owner];
  REQUIRE(counts.size() == 4);
  for (const auto& entry : counts) {  // not a structured binding: clang 14 cannot capture one
    CAPTURE(entry.first);
    CHECK(entry.second >= 1500);
    CHECK(entry.second <= 3500);
  }
}

TEST_CASE("consistent hash: removing an endpoint moves only the keys it had") {
  auto ch = make("consistent_hash", kFour);
  const auto before = map_keys(*ch, kFour, all_usable(4), 10000);
  const auto three = names_of({"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.4:6379"});  // .3 removed
  reset_equal(*ch, three);
  const auto after = map_keys(*ch, three, all_usable(3), 10000);
  int moved = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == "10.0.0.3:6379") {
      ++moved;
    } else if (before[i] != after[i]) {
      FAIL_CHECK("key:" << i << " moved from " << before[i] << " to " << after[i]);
    }
  }
  CHECK(moved > 1000);  // the removed endpoint did own a share

  reset_equal(*ch, kFour);  // and back
  CHECK(map_keys(*ch, kFour, all_usable(4), 10000) == before);
}

TEST_CASE("consistent hash: an unusable endpoint's keys go to the next point and come back") {
  auto ch = make("consistent_hash", kFour);
  auto endpoints = all_usable(4);
  const auto before = map_keys(*ch, kFour, endpoints, 5000);

  // Skipping .3's points must give exactly the ring built without them.
  auto without = make("consistent_hash", names_of({"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.4:6379"}));
  const auto expected =
      map_keys(*without, names_of({"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.4:6379"}), all_usable(3), 5000);
  endpoints[2].usable = false;
  const auto down = map_keys(*ch, kFour, endpoints, 5000);
  CHECK(down == expected);
  CHECK(down != before);
  for (const auto& owner : down) CHECK(owner != "10.0.0.3:6379");

  endpoints[2].usable = true;
  CHECK(map_keys(*ch, kFour, endpoints, 5000) == before);
}

TEST_CASE("consistent hash: avoid takes the next point unless it is the only usable endpoint") {
  auto ch = make("consistent_hash", kFour);
  auto endpoints = all_usable(4);
  for (int i = 0; i < 100; ++i) {
    const Request request = with_params("key:" + std::to_string(i));
    const size_t home = ch->pick(request, endpoints, kNone);
    const size_t retry = ch->pick(request, endpoints, home);
    CHECK(retry != home);
    CHECK(retry < 4);
    auto home_down = endpoints;
    home_down[home].usable = false;
    CHECK(ch->pick(request, home_down, kNone) == retry);
    std::vector<EndpointView> only_home(4, EndpointView{false, 0});
    only_home[home].usable = true;
    CHECK(ch->pick(request, only_home, home) == home);
  }
}

TEST_CASE("consistent hash: hash_key params.id uses that field; a path that does not resolve is safe") {
  auto ch = make("consistent_hash", kFour, "params.id");
  auto endpoints = all_usable(4);
  std::map<size_t, int> spread;
  for (int id = 0; id < 200; ++id) {
    const size_t one = ch->pick(with_params(Json{{"id", id}, {"name", "x"}}), endpoints, kNone);
    CHECK(ch->pick(with_params(Json{{"id", id}, {"name", "y"}, {"tags", {1, 2}}}), endpoints, kNone) == one);
    CHECK(ch->pick(with_params(Json{{"id", std::to_string(id)}}), endpoints, kNone) == one);
    ++spread[one];
  }
  CHECK(spread.size() == 4);

  // Unresolved: every such request hashes as null, so they all meet on one endpoint.
  const size_t null_home = ch->pick(with_params(Json{{"other", 1}}), endpoints, kNone);
  CHECK(null_home < 4);
  CHECK(ch->pick(with_params(Json::array({"id", 5})), endpoints, kNone) == null_home);
  CHECK(ch->pick(with_params("id"), endpoints, kNone) == null_home);
  CHECK(ch->pick(with_params(nullptr), endpoints, kNone) == null_home);
  CHECK(ch->pick(with_params(Json{{"id", nullptr}}), endpoints, kNone) == null_home);
}

TEST_CASE("consistent hash: paths step into objects by key and arrays by index") {
  auto nested = make("consistent_hash", kFour, "params.user.0");
  auto first = make("consistent_hash", kFour, "params.0");
  auto whole = make("consistent_hash", kFour, "params");
  auto endpoints = all_usable(4);
  int whole_differs = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string key = "u" + std::to_string(i);
    const size_t expected = first->pick(with_params(key), endpoints, kNone);  // not an array: null
    const size_t by_key = whole->pick(with_params(key), endpoints, kNone);
    CHECK(nested->pick(with_params(Json{{"user", {key, "z"}}}), endpoints, kNone) == by_key);
    CHECK(nested->pick(with_params(Json{{"user", {{"0", key}}}}), endpoints, kNone) == by_key);
    CHECK(first->pick(with_params(Json::array({key, 1})), endpoints, kNone) == by_key);
    CHECK(expected == first->pick(with_params(nullptr), endpoints, kNone));
    whole_differs += whole->pick(with_params(Json::array({key, "v"})), endpoints, kNone) != by_key;
  }
  CHECK(whole_differs > 0);  // "params" hashes the whole array, not its first element
  CHECK(nested->pick(with_params(Json{{"user", {"a"}}}), endpoints, kNone) < 4);
  CHECK(nested->pick(with_params(Json{{"user", Json::array()}}), endpoints, kNone) < 4);
}

TEST_CASE("weights: each balancer gives a weight-3 endpoint three times the share of a weight-1 one") {
  const auto names = names_of({"a:1", "b:1", "c:1"});
  const std::vector<unsigned> weights{3, 1, 1};
  for (const char* name : {"round_robin", "random", "consistent_hash"}) {
    CAPTURE(name);
    auto balancer = make_load_balancer(name, "");
    balancer->reset(names, weights);
    std::map<size_t, int> picks;
    const auto endpoints = all_usable(3);
    for (int i = 0; i < 5000; ++i) ++picks[balancer->pick(with_params("key-" + std::to_string(i)), endpoints, kNone)];
    CHECK(picks[0] > 2400);  // 3000 expected
    CHECK(picks[0] < 3600);
    CHECK(picks[1] > 600);  // 1000 expected each
    CHECK(picks[2] > 600);
  }
}

TEST_CASE("weighted round robin spreads the heavy endpoint's turns and skips unusable ones") {
  auto rr = make_load_balancer("round_robin", "");
  rr->reset(names_of({"a", "b", "c"}), {3, 1, 1});
  auto endpoints = all_usable(3);
  std::string order;
  for (int i = 0; i < 5; ++i) order += static_cast<char>('a' + rr->pick(with_params("k"), endpoints, kNone));
  CHECK(order == "abaca");
  endpoints[0].usable = false;
  for (int i = 0; i < 4; ++i) CHECK(rr->pick(with_params("k"), endpoints, kNone) != 0);
}

TEST_CASE("least pending compares pending calls per unit of weight") {
  auto lp = make_load_balancer("least_pending", "");
  lp->reset(names_of({"a", "b"}), {2, 1});
  std::vector<EndpointView> endpoints{{true, 7}, {true, 4}};  // 3.5 per weight against 4
  CHECK(lp->pick(with_params("k"), endpoints, kNone) == 0);
  endpoints[0].pending = 9;  // 4.5 against 4
  CHECK(lp->pick(with_params("k"), endpoints, kNone) == 1);
}
