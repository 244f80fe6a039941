// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Safetensors read (memory-mapped, single file or sharded) and write, validated so
//! that no malformed file is ever read out of bounds.
//!
//! The format: an 8-byte little-endian header length N, N bytes of JSON (an object mapping
//! each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
//! "__metadata__" object of strings), then the data section; offsets are relative to its
//! start (byte 8 + N). Shards are tied together by a `*.safetensors.index.json` whose
//! "weight_map" maps tensor names to shard file names in the same directory.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/detail/json.hpp"  // parse_json, json_to_i64, read_text_file
#include "droidspeak/io/mapped_file.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>  // std::memcpy: element reads that need no alignment
#include <filesystem>
#include <fstream>  // std::ofstream: writing
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace io {

// ---- element types ------------------------------------------------------------------

//! A safetensors element type: its spelling in the header, its size, and the droidspeak
//! `DType` it maps to when `tensor()` supports it (F32, F16, BF16).
struct SafetensorsDType {
  std::string_view name;
  std::int64_t size;
  std::optional<DType> dtype;
};

//! Every element type of the safetensors format that this reader validates. Tensors of the
//! types without a `DType` are read through `raw_tensor()` only.
inline constexpr SafetensorsDType kSafetensorsDTypes[] = {
    {"F32", 4, DType::kF32},   {"F16", 2, DType::kF16},    {"BF16", 2, DType::kBF16},
    {"F64", 8, std::nullopt},  {"I64", 8, std::nullopt},   {"I32", 4, std::nullopt},
    {"I16", 2, std::nullopt},  {"I8", 1, std::nullopt},    {"U64", 8, std::nullopt},
    {"U32", 4, std::nullopt},  {"U16", 2, std::nullopt},   {"U8", 1, std::nullopt},
    {"BOOL", 1, std::nullopt}, {"F8_E4M3", 1, std::nullopt}, {"F8_E5M2", 1, std::nullopt}};

//! The entry of `kSafetensorsDTypes` spelled `name`, or nullptr.
inline const SafetensorsDType* find_safetensors_dtype(std::string_view name) noexcept {
  for (const SafetensorsDType& d : kSafetensorsDTypes) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

//! "F32", "F16", "BF16", "F8_E4M3", "I8": the header spelling of a droidspeak dtype.
constexpr std::string_view safetensors_dtype_name(DType d) noexcept {
  switch (d) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kFP8E4M3: return "F8_E4M3";
    case DType::kI8: return "I8";
  }
  return "";
}

// ---- views --------------------------------------------------------------------------

//! A tensor of a supported float type (F32, F16 or BF16), as stored: row-major, no strides.
//! `data` points into the mapped file (or the caller's buffer when writing) and is valid
//! while its owner lives. It is aligned to the element size in every file whose header
//! length and offsets are multiples of 8 and of the element size (all HF-written files).
struct TensorView {
  std::string_view name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> data;  //!< [numel() * dtype_size(dtype)]

  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (std::int64_t e : shape) n *= e;
    return n;
  }
};

//! A tensor of any safetensors element type, named by its header spelling ("I32", ...).
struct RawTensorView {
  std::string_view name;
  std::string_view dtype;  //!< a name from kSafetensorsDTypes
  std::vector<std::int64_t> shape;
  std::span<const std::byte> data;

  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (std::int64_t e : shape) n *= e;
    return n;
  }
};

//! One validated header entry. Offsets are absolute in the file: [begin, end).
struct SafetensorsEntry {
  std::string name;
  const SafetensorsDType* dtype = nullptr;
  std::vector<std::int64_t> shape;
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

// ---- one parsed file ----------------------------------------------------------------

//! A validated safetensors image over bytes someone else owns: lookups by name, no copies.
//! Entries are sorted by name.
class SafetensorsView {
 public:
  SafetensorsView() = default;

  //! How messages name this file.
  const std::string& file_name() const noexcept { return file_; }
  //! The whole file [8 + header length + data].
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  //! Every tensor, sorted by name.
  std::span<const SafetensorsEntry> entries() const noexcept { return entries_; }
  //! The "__metadata__" object (empty when absent).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  //! The entry named `name`, or nullptr.
  const SafetensorsEntry* find(std::string_view name) const noexcept {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                               [](const SafetensorsEntry& e, std::string_view n) {
                                 return std::string_view(e.name) < n;
                               });
    return it != entries_.end() && it->name == name ? &*it : nullptr;
  }
  bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

  //! Every tensor name, sorted. The views live as long as this object.
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    out.reserve(entries_.size());
    for (const SafetensorsEntry& e : entries_) out.emplace_back(e.name);
    return out;
  }

  //! The tensor `name` of any element type. kErrorInvalidArgument naming the file and the
  //! tensor when there is none.
  Result<RawTensorView> raw_tensor(std::string_view name) const {
    const SafetensorsEntry* e = find(name);
    if (e == nullptr) return missing(name);
    return RawTensorView{e->name, e->dtype->name, e->shape, slice(*e)};
  }

  //! The tensor `name` as a F32/F16/BF16 view. kErrorInvalidArgument when there is none;
  //! kErrorNotSupported naming the tensor and its dtype for other element types.
  Result<TensorView> tensor(std::string_view name) const {
    const SafetensorsEntry* e = find(name);
    if (e == nullptr) return missing(name);
    if (!e->dtype->dtype) {
      return Status::not_supported(file_ + ": tensor \"" + e->name + "\": dtype " +
                                   std::string(e->dtype->name) +
                                   " is not supported (supported: F32, F16, BF16)");
    }
    return TensorView{e->name, *e->dtype->dtype, e->shape, slice(*e)};
  }

 private:
  friend Result<SafetensorsView> parse_safetensors(std::span<const std::byte>, std::string_view);

  Status missing(std::string_view name) const {
    return Status::invalid_argument(file_ + ": no tensor named \"" + std::string(name) + "\"");
  }
  std::span<const std::byte> slice(const SafetensorsEntry& e) const noexcept {
    return bytes_.subspan(static_cast<std::size_t>(e.begin),
                          static_cast<std::size_t>(e.end - e.begin));
  }

  std::string file_;
  std::span<const std::byte> bytes_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

namespace detail {

inline std::string quote_name(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Validates one tensor's header entry; `data_size` is the size of the data section and
// `data_start` its absolute offset.
inline Status parse_safetensors_entry(const std::string& file, const std::string& name,
                                      const Json& v, std::int64_t data_start,
                                      std::int64_t data_size, SafetensorsEntry& out) {
  const std::string where = file + ": tensor " + quote_name(name) + ": ";
  if (!v.is_object()) {
    return Status::io_error(where + "header entry must be an object, got " + json_type_name(v));
  }
  out.name = name;

  auto dt = v.find("dtype");
  if (dt == v.end()) return Status::io_error(where + "missing \"dtype\"");
  if (!dt->is_string()) {
    return Status::io_error(where + "\"dtype\" must be a string, got " + json_type_name(*dt));
  }
  const auto& dtype_name = dt->get_ref<const std::string&>();
  out.dtype = find_safetensors_dtype(dtype_name);
  if (out.dtype == nullptr) {
    return Status::io_error(where + "unknown dtype " + quote_name(dtype_name) +
                            " (expected F32, F16, BF16, F64, I64, I32, I16, I8, U64, U32, U16, "
                            "U8, BOOL, F8_E4M3 or F8_E5M2)");
  }

  auto sh = v.find("shape");
  if (sh == v.end()) return Status::io_error(where + "missing \"shape\"");
  if (!sh->is_array()) {
    return Status::io_error(where + "\"shape\" must be an array, got " + json_type_name(*sh));
  }
  std::int64_t numel = 1;
  bool overflow = false;
  out.shape.clear();
  for (std::size_t i = 0; i < sh->size(); ++i) {
    std::int64_t extent = 0;
    const Json& x = (*sh)[i];
    if (!json_to_i64(x, extent)) {
      return Status::io_error(where + "shape[" + std::to_string(i) + "] is not an integer (" +
                              (x.is_number() ? "non-integer or too large number"
                                             : json_type_name(x)) +
                              ")");
    }
    if (extent < 0) {
      return Status::io_error(where + "shape[" + std::to_string(i) + "] is negative (" +
                              std::to_string(extent) + ")");
    }
    out.shape.push_back(extent);
    overflow = overflow || __builtin_mul_overflow(numel, extent, &numel);
  }
  std::int64_t nbytes = 0;
  if (overflow || __builtin_mul_overflow(numel, out.dtype->size, &nbytes)) {
    return Status::io_error(where + "shape product overflows 64 bits");
  }

  auto off = v.find("data_offsets");
  if (off == v.end()) return Status::io_error(where + "missing \"data_offsets\"");
  std::int64_t begin = 0;
  std::int64_t end = 0;
  if (!off->is_array() || off->size() != 2 || !json_to_i64((*off)[0], begin) ||
      !json_to_i64((*off)[1], end)) {
    return Status::io_error(where + "\"data_offsets\" must be an array of two integers");
  }
  if (begin < 0 || end < 0) {
    return Status::io_error(where + "data_offsets [" + std::to_string(begin) + ", " +
                            std::to_string(end) + "] are negative");
  }
  if (end < begin) {
    return Status::io_error(where + "data_offsets end " + std::to_string(end) +
                            " is before begin " + std::to_string(begin));
  }
  if (end > data_size) {
    return Status::io_error(where + "data_offsets [" + std::to_string(begin) + ", " +
                            std::to_string(end) + "] are out of range: the data section has " +
                            std::to_string(data_size) + " bytes (file truncated?)");
  }
  if (end - begin != nbytes) {
    std::string shape = "[";
    for (std::size_t i = 0; i < out.shape.size(); ++i) {
      shape += (i ? ", " : "") + std::to_string(out.shape[i]);
    }
    return Status::io_error(where + "shape " + shape + "] of " + std::string(out.dtype->name) +
                            " needs " + std::to_string(nbytes) + " bytes but data_offsets span " +
                            std::to_string(end - begin) + " (byte-count mismatch)");
  }
  out.begin = data_start + begin;
  out.end = data_start + end;
  return Status::ok();
}

}  // namespace detail

//! Parses and validates a safetensors image in memory.
//! @param[in] bytes      the whole file [size]; must outlive the returned view.
//! @param[in] file_name  how messages name the file.
//! @return the view, or kErrorIo with a message naming the file (and the tensor, where one
//!   is at fault) for: a file shorter than 8 bytes; a header length past the end of the
//!   file; a header that is not JSON or not an object; a tensor entry that is not an object
//!   or lacks dtype/shape/data_offsets; an unknown dtype; negative, non-integer or
//!   overflowing shape entries; data_offsets out of range, with end < begin, or overlapping
//!   another tensor's; a byte count that does not match shape x dtype size; a non-object
//!   "__metadata__" or a non-string metadata value. Never reads outside `bytes`.
inline Result<SafetensorsView> parse_safetensors(std::span<const std::byte> bytes,
                                                 std::string_view file_name) {
  const std::string file(file_name);
  if (bytes.size() < 8) {
    return Status::io_error(file + ": file is truncated: " + std::to_string(bytes.size()) +
                            " bytes, less than the 8-byte header length");
  }
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) {
    header_len = (header_len << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
  }
  const std::uint64_t available = bytes.size() - 8;
  if (header_len > available) {
    return Status::io_error(file + ": header length " + std::to_string(header_len) +
                            " is past the end of the file (" + std::to_string(available) +
                            " bytes follow the length; file truncated?)");
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + 8,
                                static_cast<std::size_t>(header_len));
  const detail::Json root = detail::parse_json(header);
  if (root.is_discarded()) return Status::io_error(file + ": header is not valid JSON");
  if (!root.is_object()) {
    return Status::io_error(file + ": header must be a JSON object, got " +
                            detail::json_type_name(root));
  }

  SafetensorsView view;
  view.file_ = file;
  view.bytes_ = bytes;
  const auto data_start = static_cast<std::int64_t>(8 + header_len);
  const auto data_size = static_cast<std::int64_t>(available - header_len);
  view.entries_.reserve(root.size());
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) {
        return Status::io_error(file + ": \"__metadata__\" must be an object, got " +
                                detail::json_type_name(value));
      }
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) {
          return Status::io_error(file + ": \"__metadata__\" value of " + detail::quote_name(mk) +
                                  " must be a string, got " + detail::json_type_name(mv));
        }
        view.metadata_.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    SafetensorsEntry e;
    DROIDSPEAK_TRY(detail::parse_safetensors_entry(file, key, value, data_start, data_size, e));
    view.entries_.push_back(std::move(e));
  }
  // nlohmann's object is a std::map, so entries already come sorted by name.

  // Overlaps: sort the non-empty ranges by begin; each must start at or after the last end.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& e : view.entries_) {
    if (e.end > e.begin) by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const SafetensorsEntry& prev = *by_offset[i - 1];
    const SafetensorsEntry& cur = *by_offset[i];
    if (cur.begin < prev.end) {
      return Status::io_error(
          file + ": tensor " + detail::quote_name(cur.name) + ": data_offsets [" +
          std::to_string(cur.begin - data_start) + ", " + std::to_string(cur.end - data_start) +
          "] overlap those of tensor " + detail::quote_name(prev.name) + " [" +
          std::to_string(prev.begin - data_start) + ", " + std::to_string(prev.end - data_start) +
          "]");
    }
  }
  return view;
}

//! A memory-mapped, validated safetensors file; every `SafetensorsView` lookup applies.
//! Move-only; views into it stay valid across moves and until it is destroyed.
class SafetensorsFile : public SafetensorsView {
 public:
  SafetensorsFile() = default;

  //! Maps and validates `path` (see `parse_safetensors` for the errors; messages name the
  //! path). A file that cannot be opened gives kErrorIo naming it.
  static Result<SafetensorsFile> open(const std::filesystem::path& path) {
    Result<MappedFile> mapped = MappedFile::open(path);
    if (!mapped) return mapped.status();
    SafetensorsFile f;
    f.path_ = path;
    f.mapping_ = std::move(mapped).value();
    Result<SafetensorsView> view = parse_safetensors(f.mapping_.bytes(), path.string());
    if (!view) return view.status();
    static_cast<SafetensorsView&>(f) = std::move(view).value();
    return f;
  }

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  MappedFile mapping_;
  std::filesystem::path path_;
};

// ---- several shards seen as one -----------------------------------------------------

//! One or more safetensors files seen as one name -> tensor map: a single file, or the
//! shards of a `*.safetensors.index.json`. Move-only.
class SafetensorsSet {
 public:
  SafetensorsSet() = default;

  //! A set holding one file.
  static Result<SafetensorsSet> open_file(const std::filesystem::path& path) {
    Result<SafetensorsFile> f = SafetensorsFile::open(path);
    if (!f) return f.status();
    SafetensorsSet s;
    s.source_ = path.string();
    s.shards_.push_back(std::move(f).value());
    for (const SafetensorsEntry& e : s.shards_[0].entries()) s.index_.push_back({e.name, 0});
    return s;
  }

  //! Opens the shards listed by an index file ({"weight_map": {tensor: shard file name}},
  //! shard names relative to the index's directory). kErrorIo naming the index file for a
  //! file that is not JSON, lacks an object "weight_map" or has non-string or path-like
  //! shard names; naming the shard for a shard that is missing or malformed; naming the
  //! tensor when the weight map lists a tensor its shard does not hold.
  static Result<SafetensorsSet> open_index(const std::filesystem::path& index_json) {
    const std::string file = index_json.string();
    std::string text;
    DROIDSPEAK_TRY(detail::read_text_file(index_json, text));
    const detail::Json root = detail::parse_json(text);
    if (root.is_discarded()) return Status::io_error(file + ": index is not valid JSON");
    if (!root.is_object()) return Status::io_error(file + ": index must be a JSON object");
    auto wm = root.find("weight_map");
    if (wm == root.end()) return Status::io_error(file + ": missing \"weight_map\"");
    if (!wm->is_object()) {
      return Status::io_error(file + ": \"weight_map\" must be an object, got " +
                              detail::json_type_name(*wm));
    }
    SafetensorsSet s;
    s.source_ = file;
    std::map<std::string, std::size_t> shard_of_name;  // shard file name -> shards_ index
    const std::filesystem::path dir = index_json.parent_path();
    for (const auto& [tensor, shard] : wm->items()) {
      if (!shard.is_string()) {
        return Status::io_error(file + ": weight_map entry for tensor " + detail::quote_name(tensor) +
                                " must be a file name string, got " +
                                detail::json_type_name(shard));
      }
      const auto& shard_name = shard.get_ref<const std::string&>();
      const std::filesystem::path shard_path(shard_name);
      if (shard_name.empty() || shard_path.has_parent_path() || shard_path.is_absolute() ||
          shard_name == "." || shard_name == "..") {
        return Status::io_error(file + ": weight_map entry for tensor " + detail::quote_name(tensor) +
                                " names " + detail::quote_name(shard_name) +
                                ", not a file name in the index's directory");
      }
      auto it = shard_of_name.find(shard_name);
      if (it == shard_of_name.end()) {
        const std::filesystem::path p = dir / shard_path;
        std::error_code ec;
        if (!std::filesystem::exists(p, ec)) {
          return Status::io_error(file + ": shard file " + p.string() + " (holding tensor " +
                                  detail::quote_name(tensor) + ") is missing");
        }
        Result<SafetensorsFile> f = SafetensorsFile::open(p);
        if (!f) return f.status().with_context(file);
        it = shard_of_name.emplace(shard_name, s.shards_.size()).first;
        s.shards_.push_back(std::move(f).value());
      }
      if (!s.shards_[it->second].contains(tensor)) {
        return Status::io_error(file + ": tensor " + detail::quote_name(tensor) +
                                " is missing from its shard " +
                                s.shards_[it->second].file_name());
      }
      s.index_.push_back({tensor, it->second});
    }
    return s;  // index_ is sorted: weight_map is a std::map
  }

  //! `open_index` for a path ending in ".index.json", `open_file` otherwise.
  static Result<SafetensorsSet> open(const std::filesystem::path& path) {
    const std::string p = path.string();
    constexpr std::string_view suffix = ".index.json";
    if (p.size() >= suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return open_index(path);
    }
    return open_file(path);
  }

  //! The index file or the single file: how messages name the set.
  const std::string& source() const noexcept { return source_; }
  std::span<const SafetensorsFile> shards() const noexcept { return shards_; }
  std::size_t size() const noexcept { return index_.size(); }

  bool contains(std::string_view name) const noexcept { return locate(name) != nullptr; }

  //! Every tensor name, sorted.
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    out.reserve(index_.size());
    for (const auto& [name, shard] : index_) out.emplace_back(name);
    return out;
  }

  //! The F32/F16/BF16 tensor `name` from whichever shard holds it; errors as in
  //! `SafetensorsView::tensor` (a missing name names the index or file).
  Result<TensorView> tensor(std::string_view name) const {
    const SafetensorsFile* f = locate(name);
    if (f == nullptr) return missing(name);
    return f->tensor(name);
  }
  Result<RawTensorView> raw_tensor(std::string_view name) const {
    const SafetensorsFile* f = locate(name);
    if (f == nullptr) return missing(name);
    return f->raw_tensor(name);
  }

 private:
  const SafetensorsFile* locate(std::string_view name) const noexcept {
    auto it = std::lower_bound(
        index_.begin(), index_.end(), name,
        [](const std::pair<std::string, std::size_t>& e, std::string_view n) {
          return std::string_view(e.first) < n;
        });
    if (it == index_.end() || it->first != name) return nullptr;
    return &shards_[it->second];
  }
  Status missing(std::string_view name) const {
    return Status::invalid_argument(source_ + ": no tensor named \"" + std::string(name) + "\"");
  }

  std::string source_;
  std::vector<SafetensorsFile> shards_;
  std::vector<std::pair<std::string, std::size_t>> index_;  // sorted by name
};

// ---- element access -----------------------------------------------------------------

//! Converts a F32/F16/BF16 tensor to f32 (exactly: every f16/bf16 value is a float).
//! Reads element by element with memcpy, so `t.data` needs no alignment.
//! @param[out] out  [t.numel()]
//! @return kErrorInvalidArgument when out.size() != t.numel() or the data size is wrong.
inline Status copy_to_f32(const TensorView& t, std::span<float> out) {
  const std::int64_t n = t.numel();
  if (static_cast<std::int64_t>(out.size()) != n) {
    return Status::invalid_argument("copy_to_f32: tensor \"" + std::string(t.name) + "\" has " +
                                    std::to_string(n) + " elements, output has " +
                                    std::to_string(out.size()));
  }
  if (static_cast<std::int64_t>(t.data.size()) != n * dtype_size(t.dtype)) {
    return Status::invalid_argument("copy_to_f32: tensor \"" + std::string(t.name) +
                                    "\": data size does not match its shape and dtype");
  }
  const std::byte* p = t.data.data();
  for (std::int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kF32: std::memcpy(&out[static_cast<std::size_t>(i)], p + 4 * i, 4); break;
      case DType::kF16: {
        Half h;
        std::memcpy(&h.bits, p + 2 * i, 2);
        out[static_cast<std::size_t>(i)] = to_float(h);
        break;
      }
      case DType::kBF16: {
        BFloat16 b;
        std::memcpy(&b.bits, p + 2 * i, 2);
        out[static_cast<std::size_t>(i)] = to_float(b);
        break;
      }
      default:
        return Status::not_supported("copy_to_f32: tensor \"" + std::string(t.name) +
                                     "\": dtype " + std::string(to_string(t.dtype)) +
                                     " is not supported (supported: f32, f16, bf16)");
    }
  }
  return Status::ok();
}

//! The tensor as a new f32 vector; see `copy_to_f32`.
inline Result<std::vector<float>> to_f32_vector(const TensorView& t) {
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  DROIDSPEAK_TRY(copy_to_f32(t, out));
  return out;
}

//! An I32 or I64 tensor (token ids) as int64 values. kErrorNotSupported naming the tensor
//! for other element types.
inline Result<std::vector<std::int64_t>> to_i64_vector(const RawTensorView& t) {
  const std::int64_t n = t.numel();
  const std::int64_t size = t.dtype == "I32" ? 4 : (t.dtype == "I64" ? 8 : 0);
  if (size == 0) {
    return Status::not_supported("tensor \"" + std::string(t.name) + "\": dtype " +
                                 std::string(t.dtype) + " is not an integer type (expected I32 or I64)");
  }
  if (static_cast<std::int64_t>(t.data.size()) != n * size) {
    return Status::invalid_argument("tensor \"" + std::string(t.name) +
                                    "\": data size does not match its shape and dtype");
  }
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    if (size == 4) {
      std::int32_t v;
      std::memcpy(&v, t.data.data() + 4 * i, 4);
      out[static_cast<std::size_t>(i)] = v;
    } else {
      std::memcpy(&out[static_cast<std::size_t>(i)], t.data.data() + 8 * i, 8);
    }
  }
  return out;
}

// ---- writing ------------------------------------------------------------------------

namespace detail {

// Validates the tensors and builds the padded header; `order` receives the tensors sorted by
// name (the order of the data section).
inline Status build_safetensors_header(std::span<const RawTensorView> tensors,
                                       const std::map<std::string, std::string>& metadata,
                                       std::string& header,
                                       std::vector<const RawTensorView*>& order) {
  order.clear();
  for (const RawTensorView& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const RawTensorView* a, const RawTensorView* b) { return a->name < b->name; });
  Json root = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) {
      if (!is_valid_utf8(k) || !is_valid_utf8(v)) {
        return Status::invalid_argument("write_safetensors: metadata key or value " + quote_name(k) +
                                        " is not valid UTF-8");
      }
      meta[k] = v;
    }
    root["__metadata__"] = std::move(meta);
  }
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const RawTensorView& t = *order[i];
    const std::string where = "write_safetensors: tensor " + quote_name(t.name) + ": ";
    if (t.name.empty() || t.name == "__metadata__" || !is_valid_utf8(t.name)) {
      return Status::invalid_argument(where + "the name must be non-empty UTF-8 and not "
                                              "\"__metadata__\"");
    }
    if (i > 0 && order[i - 1]->name == t.name) {
      return Status::invalid_argument(where + "the name appears twice");
    }
    const SafetensorsDType* dt = find_safetensors_dtype(t.dtype);
    if (dt == nullptr) return Status::invalid_argument(where + "unknown dtype " + quote_name(t.dtype));
    std::int64_t numel = 1;
    for (std::int64_t e : t.shape) {
      if (e < 0) return Status::invalid_argument(where + "negative shape entry");
      if (__builtin_mul_overflow(numel, e, &numel)) {
        return Status::invalid_argument(where + "shape product overflows 64 bits");
      }
    }
    std::int64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, dt->size, &nbytes) ||
        nbytes != static_cast<std::int64_t>(t.data.size())) {
      return Status::invalid_argument(where + "has " + std::to_string(t.data.size()) +
                                      " bytes, its shape and dtype need " +
                                      std::to_string(nbytes));
    }
    root[std::string(t.name)] = Json{{"dtype", std::string(dt->name)},
                                     {"shape", t.shape},
                                     {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  header = root.dump(-1, ' ', false, Json::error_handler_t::replace);
  // Pad with spaces (JSON whitespace) so the data section starts 8-byte aligned.
  header.append((8 - header.size() % 8) % 8, ' ');
  return Status::ok();
}

inline void append_le64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

}  // namespace detail

//! Serialises tensors into a safetensors image in memory: names sorted, tensors packed in
//! that order without gaps, header padded with spaces to a multiple of 8 bytes.
//! @param[in] tensors   any element types of kSafetensorsDTypes; `data` [numel * size].
//! @param[in] metadata  written as "__metadata__" when non-empty.
//! @return kErrorInvalidArgument naming the tensor for an empty, reserved, non-UTF-8 or
//!   duplicate name, an unknown dtype, or a data size that does not match the shape.
inline Result<std::vector<std::byte>> serialize_safetensors(
    std::span<const RawTensorView> tensors, const std::map<std::string, std::string>& metadata = {}) {
  std::string header;
  std::vector<const RawTensorView*> order;
  DROIDSPEAK_TRY(detail::build_safetensors_header(tensors, metadata, header, order));
  std::string prefix;
  detail::append_le64(prefix, header.size());
  std::vector<std::byte> out;
  const auto append = [&out](const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out.insert(out.end(), b, b + n);
  };
  append(prefix.data(), prefix.size());
  append(header.data(), header.size());
  for (const RawTensorView* t : order) append(t->data.data(), t->data.size());
  return out;
}

//! Converts typed views to raw ones (for the writers).
inline std::vector<RawTensorView> to_raw(std::span<const TensorView> tensors) {
  std::vector<RawTensorView> raw;
  raw.reserve(tensors.size());
  for (const TensorView& t : tensors) {
    raw.push_back({t.name, safetensors_dtype_name(t.dtype), t.shape, t.data});
  }
  return raw;
}

//! Writes a safetensors file (layout as `serialize_safetensors`). The file is written next
//! to `path` under a temporary name and renamed into place, so `tensors` may point into a
//! mapping of the file being replaced. kErrorIo naming the path when writing fails.
inline Status write_safetensors(const std::filesystem::path& path,
                                std::span<const RawTensorView> tensors,
                                const std::map<std::string, std::string>& metadata = {}) {
  std::string header;
  std::vector<const RawTensorView*> order;
  DROIDSPEAK_TRY(detail::build_safetensors_header(tensors, metadata, header, order));
  std::string prefix;
  detail::append_le64(prefix, header.size());
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::io_error(path.string() + ": cannot create " + tmp.string());
    out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const RawTensorView* t : order) {
      out.write(reinterpret_cast<const char*>(t->data.data()),
                static_cast<std::streamsize>(t->data.size()));
    }
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return Status::io_error(path.string() + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Status::io_error(path.string() + ": cannot rename the written file into place: " +
                            ec.message());
  }
  return Status::ok();
}

//! `write_safetensors` for F32/F16/BF16 (or any DType) views.
inline Status write_safetensors(const std::filesystem::path& path,
                                std::span<const TensorView> tensors,
                                const std::map<std::string, std::string>& metadata = {}) {
  const std::vector<RawTensorView> raw = to_raw(tensors);
  return write_safetensors(path, std::span<const RawTensorView>(raw), metadata);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::io
