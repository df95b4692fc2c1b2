// rpcgate's command line, apart from main() so that a binary with codecs of its own (registered
// with codec::register_codec first) runs the same gateway: tests/codec_plugin/main.cpp.
#pragma once

namespace rpcgate {

// Parses argv, loads the config and runs the process model it names; the exit status.
int run_command_line(int argc, char** argv);

}  // namespace rpcgate
