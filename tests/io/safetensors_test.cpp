// Reader/writer round trips and one test per malformed input: every error names the file
// and the problem, and nothing crashes.
#include "io/safetensors.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/shared.h"
#include "core/error.h"

namespace dsvl::io {
namespace {
namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A safetensors image: 8-byte little-endian header length, header, data.
std::string st_bytes(const std::string& header, const std::string& data, int64_t len = -1) {
  const uint64_t n = len < 0 ? header.size() : uint64_t(len);
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s + header + data;
}

// Opens `bytes` as a file named `name` in a temp dir and returns the error message ("" if it
// opened). Also checks that the message names the file.
std::string open_error(const std::string& name, const std::string& bytes) {
  const std::string path = test::temp_dir("st") + "/" + name;
  write_bytes(path, bytes);
  try {
    SafeTensorsFile f(path);
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(name), std::string::npos) << "message does not name the file: " << msg;
    return msg;
  }
  return "";
}

const std::string k8Floats(32, '\0');  // data section of 8 float32 zeros

TEST(SafeTensorsMalformed, EmptyFile) {
  EXPECT_NE(open_error("empty.safetensors", "").find("empty file"), std::string::npos);
}

TEST(SafeTensorsMalformed, TruncatedBeforeHeaderLength) {
  EXPECT_NE(open_error("short.safetensors", "\x10\x00\x00").find("truncated"), std::string::npos);
}

TEST(SafeTensorsMalformed, HeaderLengthPastEnd) {
  const std::string msg = open_error("hlen.safetensors", st_bytes("{}", "", 4096));
  EXPECT_NE(msg.find("header length 4096 runs past the end of the file"), std::string::npos) << msg;
}

TEST(SafeTensorsMalformed, InvalidJson) {
  const std::string msg = open_error("json.safetensors", st_bytes("{\"a\": [1, 2", ""));
  EXPECT_NE(msg.find("header is not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(open_error("arr.safetensors", st_bytes("[1, 2]", "")).find("not a JSON object"),
            std::string::npos);
}

TEST(SafeTensorsMalformed, UnknownDtype) {
  const std::string h = R"({"w": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}})";
  const std::string msg = open_error("dtype.safetensors", st_bytes(h, std::string(8, '\0')));
  EXPECT_NE(msg.find("tensor \"w\": unknown dtype \"F8_E4M3\""), std::string::npos) << msg;
}

TEST(SafeTensorsMalformed, OffsetsOutOfRange) {
  const std::string h = R"({"w": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}})";
  const std::string msg = open_error("range.safetensors", st_bytes(h, k8Floats));
  EXPECT_NE(msg.find("data_offsets end 64 is past the end of the data (32 bytes)"),
            std::string::npos)
      << msg;
}

TEST(SafeTensorsMalformed, OffsetsReversedOrNegative) {
  const std::string h = R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [16, 8]}})";
  EXPECT_NE(open_error("rev.safetensors", st_bytes(h, k8Floats)).find("reversed"),
            std::string::npos);
  const std::string h2 = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})";
  EXPECT_NE(open_error("neg.safetensors", st_bytes(h2, k8Floats)).find("non-negative"),
            std::string::npos);
}

TEST(SafeTensorsMalformed, OverlappingOffsets) {
  const std::string h = R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                            "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})";
  const std::string msg = open_error("overlap.safetensors", st_bytes(h, k8Floats));
  EXPECT_NE(msg.find("tensor data ranges overlap at byte 8"), std::string::npos) << msg;
}

// An empty tensor between two overlapping ones must not hide the overlap.
TEST(SafeTensorsMalformed, OverlapAcrossEmptyTensor) {
  const std::string h = R"({"a": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]},
                            "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},
                            "c": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}})";
  EXPECT_NE(open_error("overlap2.safetensors", st_bytes(h, k8Floats)).find("overlap"),
            std::string::npos);
}

TEST(SafeTensorsMalformed, ShapeDisagreesWithByteRange) {
  const std::string h = R"({"w": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 32]}})";
  const std::string msg = open_error("shape.safetensors", st_bytes(h, k8Floats));
  EXPECT_NE(msg.find("tensor \"w\": shape [3, 3] of F32 needs 36 bytes but data_offsets span 32"),
            std::string::npos)
      << msg;
}

TEST(SafeTensorsMalformed, BadEntryFields) {
  const std::string h = R"({"w": {"dtype": "F32", "shape": [8]}})";
  EXPECT_NE(open_error("fields.safetensors", st_bytes(h, k8Floats))
                .find("needs dtype, shape and data_offsets"),
            std::string::npos);
  const std::string h2 = R"({"w": {"dtype": "F32", "shape": [-8], "data_offsets": [0, 32]}})";
  EXPECT_NE(open_error("negdim.safetensors", st_bytes(h2, k8Floats)).find("negative dimension"),
            std::string::npos);
  const std::string h3 =
      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 32]}})";
  EXPECT_NE(open_error("huge.safetensors", st_bytes(h3, k8Floats)).find("implausibly large"),
            std::string::npos);
}

// A valid file cut short: the header is intact but the data is not all there.
TEST(SafeTensorsMalformed, TruncatedData) {
  const std::string dir = test::temp_dir("st");
  const std::string path = dir + "/cut.safetensors";
  std::vector<float> v(100, 1.0f);
  write_safetensors(path, {make_f32("x", {10, 10}, v.data())});
  fs::resize_file(path, fs::file_size(path) - 10);
  try {
    SafeTensorsFile f(path);
    FAIL() << "opened a truncated file";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.safetensors: tensor \"x\": data_offsets end 400 is "
                                         "past the end of the data (390 bytes): file truncated?"),
              std::string::npos)
        << e.what();
  }
}

TEST(SafeTensorsMalformed, MissingFileAndDirectory) {
  EXPECT_THROW(SafeTensorsFile("/nonexistent/x.safetensors"), IoError);
  const std::string dir = test::temp_dir("st");
  EXPECT_THROW(SafeTensorsFile{dir}, IoError);  // a directory is not a regular file
  try {
    WeightStore::open(dir);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no model.safetensors"), std::string::npos);
  }
}

// ---- sharded folders ----

std::string make_shards(const std::string& dir) {
  std::vector<float> a(6, 1.5f), b(4, -2.0f);
  write_safetensors(dir + "/model-00001-of-00002.safetensors", {make_f32("a", {2, 3}, a.data())});
  write_safetensors(dir + "/model-00002-of-00002.safetensors", {make_f32("b", {4}, b.data())});
  return R"({"metadata": {"total_size": 40}, "weight_map": {
              "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})";
}

std::string index_error(const std::string& index_json, bool drop_second_shard = false) {
  const std::string dir = test::temp_dir("idx");
  make_shards(dir);
  if (drop_second_shard) fs::remove(dir + "/model-00002-of-00002.safetensors");
  write_bytes(dir + "/model.safetensors.index.json", index_json);
  try {
    WeightStore::open(dir);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(SafeTensorsSharded, IndexNamingMissingShard) {
  const std::string dir = test::temp_dir("idx");
  const std::string msg = index_error(make_shards(dir), /*drop_second_shard=*/true);
  EXPECT_NE(msg.find("model.safetensors.index.json: names shard "
                     "\"model-00002-of-00002.safetensors\", which is missing from the folder"),
            std::string::npos)
      << msg;
}

TEST(SafeTensorsSharded, BadIndexFiles) {
  EXPECT_NE(index_error("{not json").find("model.safetensors.index.json: not valid JSON"),
            std::string::npos);
  EXPECT_NE(index_error(R"({"metadata": {}})").find("missing \"weight_map\""), std::string::npos);
  EXPECT_NE(index_error(R"({"weight_map": {"a": "../x.safetensors"}})").find("plain file name"),
            std::string::npos);
  const std::string msg =
      index_error(R"({"weight_map": {"zzz": "model-00001-of-00002.safetensors"}})");
  EXPECT_NE(msg.find("model-00001-of-00002.safetensors: the index says it holds \"zzz\""),
            std::string::npos)
      << msg;
}

TEST(SafeTensorsSharded, RoundTripThroughWriterAndIndex) {
  const std::string dir = test::temp_dir("idx");
  write_bytes(dir + "/model.safetensors.index.json", make_shards(dir));
  const WeightStore ws = WeightStore::open(dir);
  EXPECT_EQ(ws.keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(to_float(ws.require("a", {2, 3})).data, std::vector<float>(6, 1.5f));
  EXPECT_EQ(to_float(ws.get("b")).data, std::vector<float>(4, -2.0f));
  EXPECT_EQ(fs::path(ws.file_of("b")).filename(), "model-00002-of-00002.safetensors");
  EXPECT_EQ(ws.bytes_on_disk(), fs::file_size(dir + "/model-00001-of-00002.safetensors") +
                                    fs::file_size(dir + "/model-00002-of-00002.safetensors"));
  try {
    ws.require("a", {3, 2});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "model-00001-of-00002.safetensors: a: shape [2, 3], expected [3, 2]");
  }
  try {
    ws.get("nope");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor \"nope\""), std::string::npos);
  }
}

TEST(SafeTensorsSharded, SingleFileWinsOverIndexAsInTransformers) {
  const std::string dir = test::temp_dir("idx");
  write_bytes(dir + "/model.safetensors.index.json", make_shards(dir));
  std::vector<float> c(2, 3.0f);
  write_safetensors(dir + "/model.safetensors", {make_f32("c", {2}, c.data())});
  EXPECT_EQ(WeightStore::open(dir).keys(), std::vector<std::string>{"c"});
}

// ---- the writer and every dtype ----

TEST(SafeTensorsWriter, AllDtypesRoundTripAndDataIsAligned) {
  const std::string path = test::temp_dir("st") + "/all.safetensors";
  std::vector<SafeTensorsWriter::Spec> specs;
  std::vector<std::vector<uint8_t>> datas;
  uint8_t fill = 1;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32, DType::kU8,
                  DType::kBool}) {
    specs.push_back({std::string("t_") + dtype_name(t), t, {3, 5}});
    datas.emplace_back(15 * dtype_size(t), fill++);
  }
  specs.push_back({"empty", DType::kF32, {0, 7}});
  datas.emplace_back();
  {
    SafeTensorsWriter w(path, specs, {{"format", "pt"}});
    for (auto& d : datas) w.write(d.data(), d.size());
    w.finish();
  }
  SafeTensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), specs.size());
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorView& v = f.tensors().at(specs[i].name);
    EXPECT_EQ(v.dtype, specs[i].dtype);
    EXPECT_EQ(v.shape, specs[i].shape);
    if (!datas[i].empty()) {
      EXPECT_EQ(std::memcmp(v.data, datas[i].data(), datas[i].size()), 0);
    }
  }
  // The data section starts 8-byte aligned, as in files written by the reference library.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensors().at("t_F32").data) % 8, 0u);
}

// drop_from_page_cache leaves the file intact and (where the filesystem drops clean pages at
// all: not tmpfs) out of the page cache, so the next load reads it cold.
TEST(SafeTensorsWriter, DropFromPageCacheKeepsTheFile) {
  const std::string path = test::temp_dir("st") + "/drop.safetensors";
  const size_t page = size_t(sysconf(_SC_PAGESIZE)), n = 256 * 1024;
  std::vector<uint8_t> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = uint8_t(i * 7 + 3);
  write_safetensors(path, {OwnedTensor{"x", DType::kU8, {int64_t(n)}, data}});
  drop_from_page_cache(path);
  drop_from_page_cache(path + ".missing");  // ignored
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  const size_t size = size_t(fs::file_size(path));
  void* m = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(m, MAP_FAILED);
  std::vector<unsigned char> resident((size + page - 1) / page);
  ASSERT_EQ(mincore(m, size, resident.data()), 0);
  size_t cached = 0;
  for (unsigned char r : resident) cached += r & 1;
  munmap(m, size);
  SafeTensorsFile f(path);
  EXPECT_EQ(std::memcmp(f.tensors().at("x").data, data.data(), n), 0);
  if (cached == resident.size()) GTEST_SKIP() << "this filesystem keeps clean pages cached";
  EXPECT_EQ(cached, 0u) << "of " << resident.size() << " pages";
}

TEST(SafeTensorsWriter, StreamsTensorsInPiecesAndChecksCounts) {
  const std::string path = test::temp_dir("st") + "/pieces.safetensors";
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  SafeTensorsWriter w(path, {{"a", DType::kF32, {10, 100}}, {"b", DType::kF32, {2}}});
  for (size_t i = 0; i < v.size(); i += 300)
    w.append(v.data() + i, std::min<size_t>(300, v.size() - i) * 4);
  EXPECT_THROW(w.append(v.data(), 12), IoError);  // b holds only 8 bytes
  w.append(v.data(), 8);
  EXPECT_THROW(w.append(v.data(), 4), IoError);  // nothing left to write
  w.finish();
  SafeTensorsFile f(path);
  EXPECT_EQ(to_float(f.tensors().at("a")).data, v);
}

TEST(SafeTensorsWriter, RejectsRepeatedNamesAndUnfinishedFiles) {
  const std::string dir = test::temp_dir("st");
  EXPECT_THROW(SafeTensorsWriter(dir + "/dup.safetensors",
                                 {{"a", DType::kF32, {1}}, {"a", DType::kF32, {1}}}),
               IoError);
  SafeTensorsWriter w(dir + "/short.safetensors", {{"a", DType::kF32, {2}}});
  EXPECT_THROW(w.write(k8Floats.data(), 4), IoError);  // wrong byte count
  EXPECT_THROW(w.finish(), IoError);                   // a is not written
}

}  // namespace
}  // namespace dsvl::io
