// rpcgate with one codec more: the whole of what adding a codec outside the tree takes.
#include "process/command_line.h"
#include "tests/codec_plugin/line_codec.h"

int main(int argc, char** argv) {
  rpcgate::codec::register_codec(line_codec::kInfo);
  return rpcgate::run_command_line(argc, argv);
}
