#include "common/policy/inheritance.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <set>

namespace preau::policy {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Messages that are replaced whole: lists, a weekday's slots, one slot, the time zone.
bool IsLeafMessage(const Descriptor* d) {
  static const std::set<std::string> kLeaves = {
      v1::StringList::descriptor()->full_name(),  v1::DaySlots::descriptor()->full_name(),
      v1::HolidayList::descriptor()->full_name(), v1::DaySet::descriptor()->full_name(),
      v1::TimeSlot::descriptor()->full_name(),    v1::TimeZone::descriptor()->full_name()};
  return kLeaves.count(d->full_name()) > 0;
}

void Overlay(const Message& closer, Message* out, const std::string& path, size_t level,
             std::map<std::string, size_t>* origin) {
  const Reflection* r = closer.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(closer, &fields);  // only fields this level sets
  for (const FieldDescriptor* f : fields) {
    std::string key = path.empty() ? f->name() : path + "." + f->name();
    bool block = !f->is_repeated() && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                 !IsLeafMessage(f->message_type());
    if (block) {
      Overlay(r->GetMessage(closer, f), out->GetReflection()->MutableMessage(out, f), key, level,
              origin);
      continue;
    }
    // Replace the leaf: copy the closer message and swap just this field into `out`.
    std::unique_ptr<Message> copy(closer.New());
    copy->CopyFrom(closer);
    out->GetReflection()->SwapFields(copy.get(), out, {f});
    if (origin != nullptr) (*origin)[key] = level;
  }
}

}  // namespace

void OverlaySpec(const v1::PolicySpec& closer, v1::PolicySpec* effective, size_t level_index,
                 std::map<std::string, size_t>* origin) {
  Overlay(closer, effective, "", level_index, origin);
}

ResolvedPolicy ResolvePolicy(const std::vector<PolicyLevel>& chain, Completeness completeness) {
  ResolvedPolicy out;
  for (size_t i = 0; i < chain.size(); ++i) {
    OverlaySpec(chain[i].spec, &out.spec, i, &out.origin);
  }
  for (const auto& issue : ValidateSpec(out.spec, completeness)) {
    // The level that set the key (or its closest set ancestor) is where to fix it.
    PolicyError e{"", 0, issue.key, issue.message};
    std::string path = issue.key;
    while (!path.empty()) {
      auto it = out.origin.find(path);
      if (it != out.origin.end()) {
        const PolicyLevel& level = chain[it->second];
        e.file = level.source;
        e.line = level.lines.LineOf(issue.key);
        break;
      }
      size_t cut = path.find_last_of(".[");
      path.resize(cut == std::string::npos ? 0 : cut);
    }
    if (e.file.empty() && !chain.empty()) {
      // A key no level set ("a curfew needs both start and end"): blame the closest level
      // that touched the block, else the closest level.
      e.file = chain.back().source;
      for (auto it = out.origin.begin(); it != out.origin.end(); ++it) {
        const std::string& k = it->first;
        if (k.compare(0, issue.key.size(), issue.key) == 0 &&
            (k.size() == issue.key.size() || k[issue.key.size()] == '.')) {
          e.file = chain[it->second].source;
          e.line = chain[it->second].lines.LineOf(it->first);
        }
      }
    }
    out.errors.push_back(std::move(e));
  }
  return out;
}

}  // namespace preau::policy
