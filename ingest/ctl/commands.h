#pragma once

namespace tide::ctl {

// tidectl subcommands. Each parses its own options (argv[0] is the subcommand) and returns
// the process exit code: 0 ok, 1 failed, 2 bad usage.
int RunDevBroker(int argc, const char* const* argv);
int RunPublish(int argc, const char* const* argv);
int RunStats(int argc, const char* const* argv);
int RunImportHelp(int argc, const char* const* argv);
int RunFsck(int argc, const char* const* argv);
int RunChecksum(int argc, const char* const* argv);
int RunReplay(int argc, const char* const* argv);
int RunRebuild(int argc, const char* const* argv);
int RunDlq(int argc, const char* const* argv);
int RunTopics(int argc, const char* const* argv);
int RunBackup(int argc, const char* const* argv);
int RunRestore(int argc, const char* const* argv);

}  // namespace tide::ctl
