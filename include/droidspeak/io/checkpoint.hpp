// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `Checkpoint`: a HuggingFace model directory (config.json plus model.safetensors or
//! its sharded index), opened and validated in one call.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/hf_config.hpp"
#include "droidspeak/io/safetensors.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace io {

//! A model directory: its config and a name -> tensor lookup across all its shards.
//! Tensor views point into memory-mapped files and live as long as the checkpoint.
//! Move-only.
struct Checkpoint {
  std::filesystem::path dir;
  HfConfig config;
  SafetensorsSet tensors;

  //! The F32/F16/BF16 tensor `name` (see `SafetensorsSet::tensor`).
  Result<TensorView> tensor(std::string_view name) const { return tensors.tensor(name); }
  bool contains(std::string_view name) const noexcept { return tensors.contains(name); }
  //! Every tensor name, sorted.
  std::vector<std::string_view> names() const { return tensors.names(); }
};

//! Opens `dir/config.json` and `dir/model.safetensors`, or, when that file is absent,
//! `dir/model.safetensors.index.json` and its shards.
//! @return the checkpoint, or the first error of `read_hf_config` / `SafetensorsSet`
//!   (naming the file, tensor and problem); kErrorIo naming the directory when it holds
//!   neither weights file.
inline Result<Checkpoint> open_checkpoint(const std::filesystem::path& dir) {
  Checkpoint c;
  c.dir = dir;
  Result<HfConfig> config = read_hf_config(dir / "config.json");
  if (!config) return config.status();
  c.config = std::move(config).value();

  std::error_code ec;
  const std::filesystem::path single = dir / "model.safetensors";
  const std::filesystem::path index = dir / "model.safetensors.index.json";
  Result<SafetensorsSet> set = Status::io_error(dir.string() +
                                                ": neither model.safetensors nor "
                                                "model.safetensors.index.json is present");
  if (std::filesystem::exists(single, ec)) {
    set = SafetensorsSet::open_file(single);
  } else if (std::filesystem::exists(index, ec)) {
    set = SafetensorsSet::open_index(index);
  }
  if (!set) return set.status();
  c.tensors = std::move(set).value();
  return c;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::io
