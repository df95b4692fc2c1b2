#!/usr/bin/python3
"""The real Python Thrift library (Debian python3-thrift) as the peer of test_thrift_codec.

  thrift_peer.py gen
      prints one message a line, written by Python's own protocols and transports:
      <transport> <protocol> <strict> <name> <type> <seqid> <hex of the bytes>
  thrift_peer.py decode <framed|buffered> <binary|compact>
      reads one message's hex on stdin, reads it with Python's protocol as a client reads a reply
      that is a TApplicationException, and prints: <name> <type> <seqid> <exception type> <message>
"""
import sys

from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
from thrift.Thrift import TApplicationException, TMessageType, TType
from thrift.transport import TTransport


def write_args(proto, wide):
    """An argument struct with a value of every type, nested; `wide` makes the containers long."""
    count = 40 if wide else 3
    proto.writeStructBegin('args')
    proto.writeFieldBegin('n', TType.I32, 1)
    proto.writeI32(-12345)
    proto.writeFieldEnd()
    proto.writeFieldBegin('flag', TType.BOOL, 2)
    proto.writeBool(True)
    proto.writeFieldEnd()
    proto.writeFieldBegin('off', TType.BOOL, 3)
    proto.writeBool(False)
    proto.writeFieldEnd()
    proto.writeFieldBegin('far', TType.I64, 300)  # a field id too far for a compact delta
    proto.writeI64(-(1 << 62))
    proto.writeFieldEnd()
    proto.writeFieldBegin('x', TType.DOUBLE, 301)
    proto.writeDouble(3.14159)
    proto.writeFieldEnd()
    proto.writeFieldBegin('s', TType.STRING, 302)
    proto.writeString('héllo' * (50 if wide else 1))
    proto.writeFieldEnd()
    proto.writeFieldBegin('b', TType.BYTE, 303)
    proto.writeByte(-7)
    proto.writeFieldEnd()
    proto.writeFieldBegin('h', TType.I16, 304)
    proto.writeI16(-300)
    proto.writeFieldEnd()
    proto.writeFieldBegin('list', TType.LIST, 305)
    proto.writeListBegin(TType.I32, count)
    for i in range(count):
        proto.writeI32(i * 1000)
    proto.writeListEnd()
    proto.writeFieldEnd()
    proto.writeFieldBegin('bools', TType.SET, 306)
    proto.writeSetBegin(TType.BOOL, 2)
    proto.writeBool(True)
    proto.writeBool(False)
    proto.writeSetEnd()
    proto.writeFieldEnd()
    proto.writeFieldBegin('map', TType.MAP, 307)
    proto.writeMapBegin(TType.STRING, TType.LIST, count)
    for i in range(count):
        proto.writeString('k%d' % i)
        proto.writeListBegin(TType.DOUBLE, 1)
        proto.writeDouble(i / 3)
        proto.writeListEnd()
    proto.writeMapEnd()
    proto.writeFieldEnd()
    proto.writeFieldBegin('empty', TType.MAP, 308)
    proto.writeMapBegin(TType.I32, TType.I32, 0)
    proto.writeMapEnd()
    proto.writeFieldEnd()
    proto.writeFieldBegin('inner', TType.STRUCT, 309)
    proto.writeStructBegin('inner')
    proto.writeFieldBegin('deep', TType.STRUCT, 1)
    proto.writeStructBegin('deep')
    proto.writeFieldBegin('v', TType.STRING, 2)
    proto.writeString('deep')
    proto.writeFieldEnd()
    proto.writeFieldStop()
    proto.writeStructEnd()
    proto.writeFieldEnd()
    proto.writeFieldStop()
    proto.writeStructEnd()
    proto.writeFieldEnd()
    proto.writeFieldStop()
    proto.writeStructEnd()


def make_protocol(protocol, strict, transport):
    if protocol == 'compact':
        return TCompactProtocol.TCompactProtocol(transport)
    return TBinaryProtocol.TBinaryProtocol(transport, strictRead=False, strictWrite=strict)


def message(transport, protocol, strict, name, mtype, seqid, wide, service=None):
    memory = TTransport.TMemoryBuffer()
    trans = TTransport.TFramedTransport(memory) if transport == 'framed' else TTransport.TBufferedTransport(memory)
    proto = make_protocol(protocol, strict, trans)
    if service:
        proto = TMultiplexedProtocol(proto, service)
    proto.writeMessageBegin(name, mtype, seqid)
    if mtype == TMessageType.EXCEPTION:
        TApplicationException(TApplicationException.UNKNOWN_METHOD, 'no such method').write(proto)
    else:
        write_args(proto, wide)
    proto.writeMessageEnd()
    trans.flush()
    return memory.getvalue()


def gen():
    kinds = [('binary', True), ('binary', False), ('compact', True)]
    for transport in ('framed', 'buffered'):
        for protocol, strict in kinds:
            cases = [
                ('calc', TMessageType.CALL, 1, False, None),
                ('calc', TMessageType.REPLY, 2147483647, True, None),
                ('calc', TMessageType.ONEWAY, -1, False, None),
                ('calc', TMessageType.EXCEPTION, 300, False, None),
                ('calc', TMessageType.CALL, 128, False, 'PiService'),
            ]
            for name, mtype, seqid, wide, service in cases:
                data = message(transport, protocol, strict, name, mtype, seqid, wide, service)
                full = service + ':' + name if service else name
                print(transport, protocol, int(strict), full, mtype, seqid, data.hex())


def decode(transport, protocol):
    data = bytes.fromhex(sys.stdin.read().strip())
    memory = TTransport.TMemoryBuffer(data)
    trans = TTransport.TFramedTransport(memory) if transport == 'framed' else TTransport.TBufferedTransport(memory)
    proto = make_protocol(protocol, True, trans)
    name, mtype, seqid = proto.readMessageBegin()
    error = TApplicationException()
    error.read(proto)
    proto.readMessageEnd()
    rest = memory.read(1 << 20)
    print(name, mtype, seqid, error.type, error.message, 'trailing=%d' % len(rest))


if __name__ == '__main__':
    if sys.argv[1] == 'gen':
        gen()
    else:
        decode(sys.argv[2], sys.argv[3])
