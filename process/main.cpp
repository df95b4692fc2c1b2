#include "process/command_line.h"

int main(int argc, char** argv) { return rpcgate::run_command_line(argc, argv); }
