// Shared fixture for the cgroup tests that run a backend against a fake
// cgroup tree in a temp directory (test_cgroups_fake.cpp, test_cgroups_io.cpp).
// mkdir there creates no control files, so each test lays out the files a
// kernel would show before the backend touches them; writes land in plain
// files the test then reads back.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "cgroups/backend.hpp"
#include "vps/sys.hpp"

namespace fake_cgroups {

// The error text of a failed Result, "" for success: doctest may print a
// *_MESSAGE argument even when the check passes (-s).
template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.error().message();
}

// A temp directory standing in for a cgroup mount, removed on destruction.
class FakeTree {
  public:
    FakeTree() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "cgtest.XXXXXX").string();
        root_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
        REQUIRE_FALSE(root_.empty());
    }
    ~FakeTree() { (void)vps::sys::remove_tree(root_); }
    FakeTree(const FakeTree&) = delete;
    FakeTree& operator=(const FakeTree&) = delete;

    const std::string& root() const { return root_; }
    std::string path(const std::string& rel) const { return root_ + "/" + rel; }

    void put(const std::string& rel, const std::string& content) const {
        std::filesystem::create_directories(std::filesystem::path(path(rel)).parent_path());
        std::ofstream(path(rel), std::ios::trunc) << content;
    }
    // Lay out a directory of control files, "name" -> content.
    void files(const std::string& dir, const std::map<std::string, std::string>& f) const {
        std::filesystem::create_directories(path(dir));
        for (const auto& [name, content] : f) put(dir + "/" + name, content);
    }
    std::string get(const std::string& rel) const {
        auto r = vps::sys::read_file(path(rel));
        REQUIRE_MESSAGE(r, "reading " << rel);
        return *r;
    }
    bool has(const std::string& rel) const { return std::filesystem::exists(path(rel)); }

  private:
    std::string root_;
};

// Options that point a backend of `mode` at the tree: its root and its
// "self_cgroup" file; `mountinfo`, when given, names a file below the root
// (otherwise the default is left as it is).
inline cgroups::Options tree_options(const FakeTree& t, cgroups::Mode mode,
                                     const std::string& mountinfo = std::string()) {
    cgroups::Options o;
    o.mode = mode;
    o.root = t.root();
    o.proc_self_cgroup = t.path("self_cgroup");
    if (!mountinfo.empty()) o.proc_self_mountinfo = t.path(mountinfo);
    return o;
}

// The mountinfo line of a v1 hierarchy of controller `m` mounted at
// <root>/m, with `id` as both mount id and device minor.
inline std::string v1_mount_line(const FakeTree& t, int id, const std::string& m) {
    return std::to_string(id) + " 31 0:" + std::to_string(id) + " / " + t.path(m) +
           " rw,relatime - cgroup cgroup rw," + m + "\n";
}

}  // namespace fake_cgroups
