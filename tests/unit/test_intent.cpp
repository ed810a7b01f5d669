// Records of operations under way and what the next vzd does about one a
// crash left behind.
#include <doctest/doctest.h>

#include <algorithm>

#include "vps/crash.hpp"
#include "vps/intent.hpp"

using namespace vps;
using intent::Facts;
using intent::Op;
using intent::Record;
using intent::Step;

namespace {

std::vector<Step> steps(Op op, Facts f, std::string images = {}) {
    return intent::recovery_steps(Record{101, op, std::move(images), 0, 0}, f);
}

}  // namespace

TEST_CASE("an intent record survives encoding") {
    const Record r{4242, Op::chkpnt, "/vz/dump/4242", 1700000000, 77};
    auto back = intent::decode(intent::encode(r), "test");
    REQUIRE(back.ok());
    CHECK(back->ctid == 4242);
    CHECK(back->op == Op::chkpnt);
    CHECK(back->images == "/vz/dump/4242");
    CHECK(back->started_at == 1700000000);
    CHECK(back->vzd_pid == 77);
    for (Op op : {Op::create, Op::start, Op::stop, Op::restart, Op::set, Op::destroy, Op::chkpnt, Op::restore,
                  Op::migrate_prepare, Op::migrate_commit}) {
        auto name = intent::op_name(op);
        auto parsed = intent::parse_op(name);
        REQUIRE(parsed.ok());
        CHECK(*parsed == op);
    }
}

TEST_CASE("a damaged intent record is an error that names the file") {
    for (const char* text : {"", "{", "[]", "{\"op\":\"create\"}", "{\"ctid\":101,\"op\":\"explode\"}",
                             "{\"ctid\":0,\"op\":\"start\"}", "{\"ctid\":\"x\",\"op\":\"start\"}"}) {
        auto r = intent::decode(text, "/vz/intent/101.json");
        CHECK_FALSE(r.ok());
        if (!r.ok()) CHECK(r.error().message().find("/vz/intent/101.json") != std::string::npos);
    }
}

TEST_CASE("a create stands once its config is saved, else its files go") {
    CHECK(steps(Op::create, Facts{.config = true, .private_area = true}).empty());
    CHECK(steps(Op::create, Facts{.private_area = true}) == std::vector{Step::remove_new_area});
    CHECK(steps(Op::create, Facts{}) == std::vector{Step::remove_new_area});
}

TEST_CASE("a destroy that renamed the files away is finished, one that had not is forgotten") {
    CHECK(steps(Op::destroy, Facts{.config = true, .destroying = true}) == std::vector{Step::finish_destroy});
    CHECK(steps(Op::destroy, Facts{.destroying = true}) == std::vector{Step::finish_destroy});
    CHECK(steps(Op::destroy, Facts{.config = true, .private_area = true}).empty());
}

TEST_CASE("a start, stop, set or restore keeps a running VPS and clears one that is not") {
    for (Op op : {Op::start, Op::stop, Op::restart, Op::set, Op::restore}) {
        CAPTURE(intent::op_name(op));
        CHECK(steps(op, Facts{.config = true, .private_area = true, .running = true}).empty());
        CHECK(steps(op, Facts{.config = true, .private_area = true}) == std::vector{Step::clear_run});
    }
}

TEST_CASE("a checkpoint keeps finished images and removes unfinished ones") {
    CHECK(steps(Op::chkpnt, Facts{.config = true, .running = true, .images = false}, "/d") ==
          std::vector{Step::remove_partial_images});
    CHECK(steps(Op::chkpnt, Facts{.config = true, .images = true}, "/d") == std::vector{Step::clear_run});
    CHECK(steps(Op::chkpnt, Facts{.config = true, .running = true, .images = true}, "/d").empty());
}

TEST_CASE("an unanswered migration leaves this host: the source still owns the VPS") {
    CHECK(steps(Op::migrate_prepare, Facts{}) == std::vector{Step::remove_staging});
    // Moved in and running: stopped, cleared, files back to staging.
    CHECK(steps(Op::migrate_commit, Facts{.config = true, .private_area = true, .running = true}) ==
          std::vector{Step::stop_incoming, Step::clear_run, Step::return_incoming});
    // Moved in, never started.
    CHECK(steps(Op::migrate_commit, Facts{.private_area = true}) ==
          std::vector{Step::clear_run, Step::return_incoming});
    // Files still in staging: whatever carries the VPS's name is not ours.
    CHECK(steps(Op::migrate_commit, Facts{.config = true, .private_area = true, .staged = true}) ==
          std::vector{Step::clear_run});
}

TEST_CASE("crash points have unique names of the form operation.step") {
    const auto& all = crash::points();
    REQUIRE(all.size() >= 20);
    std::vector<std::string_view> names;
    for (const auto& p : all) {
        CAPTURE(p.name);
        CHECK(p.name.find('.') != std::string_view::npos);
        CHECK_FALSE(p.what.empty());
        names.push_back(p.name);
    }
    std::sort(names.begin(), names.end());
    CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
    // Unarmed, a point does nothing.
    crash::at("create.reserved");
}
