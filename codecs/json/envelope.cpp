// Reading and writing the "id" and "meta" envelope members of the json wire format.
#include "codecs/json/envelope.h"

#include "codecs/json/json_writer.h"

namespace rpcgate::codec::json {

Json* find_member(Json::object_t& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

bool read_id(Json::object_t& object, std::optional<uint64_t>& id) {
  id.reset();
  Json* value = find_member(object, "id");
  if (value == nullptr || value->is_null()) return true;
  // nlohmann reads every non-negative integer as unsigned; a negative one or a float is refused.
  if (!value->is_number_unsigned()) return false;
  id = value->get<uint64_t>();
  return true;
}

bool read_meta(Json::object_t& object, Meta& meta) {
  meta.clear();
  Json* value = find_member(object, "meta");
  if (value == nullptr || value->is_null()) return true;
  if (!value->is_object()) return false;
  auto& entries = value->get_ref<Json::object_t&>();
  for (const auto& [key, entry] : entries)
    if (!entry.is_string()) return false;
  meta.reserve(entries.size());
  for (auto& [key, entry] : entries) meta.emplace_back(key, std::move(entry.get_ref<std::string&>()));
  return true;
}

void write_id(const std::optional<uint64_t>& id, std::string& out) {
  if (!id) return;
  out += ", \"id\": ";
  write_unsigned(*id, out);
}

void write_meta(const Meta& meta, std::string& out) {
  if (meta.empty()) return;
  out += ", \"meta\": {";
  bool first = true;
  for (const auto& [key, value] : meta) {
    if (!first) out += ", ";
    first = false;
    write_json_string(key, out);
    out += ": ";
    write_json_string(value, out);
  }
  out += '}';
}

}  // namespace rpcgate::codec::json
