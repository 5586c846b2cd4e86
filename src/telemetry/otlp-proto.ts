// OTLP's binary Protobuf encoding, which most OpenTelemetry SDKs send by default over
// HTTP (Java's agent, Python's and Go's otlptracehttp) and always over gRPC: the trace
// export request read into the same shape as its JSON mapping, so one decoder
// (decodeSpans) serves both, and the responses written back in the same encoding.
// The messages are declared by their field numbers in opentelemetry-proto (trace/v1,
// common/v1, resource/v1, collector/trace/v1), reading only what mesh-sim uses;
// protobufjs skips every other field, as Protobuf requires of a reader.

import protobuf from 'protobufjs';

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });

const root = protobuf.Root.fromJSON({
  nested: {
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 }, boolValue: { type: 'bool', id: 2 }, intValue: { type: 'int64', id: 3 }, doubleValue: { type: 'double', id: 4 },
        arrayValue: { type: 'ArrayValue', id: 5 }, kvlistValue: { type: 'KeyValueList', id: 6 }, bytesValue: { type: 'bytes', id: 7 },
      },
    },
    ArrayValue: { fields: { values: repeated('AnyValue', 1) } },
    KeyValueList: { fields: { values: repeated('KeyValue', 1) } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    Resource: { fields: { attributes: repeated('KeyValue', 1) } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 }, parentSpanId: { type: 'bytes', id: 4 }, name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 }, startTimeUnixNano: { type: 'fixed64', id: 7 }, endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: repeated('KeyValue', 9), status: { type: 'Status', id: 15 },
      },
    },
    ScopeSpans: { fields: { spans: repeated('Span', 2) } },
    ResourceSpans: {
      fields: {
        resource: { type: 'Resource', id: 1 }, scopeSpans: repeated('ScopeSpans', 2),
        // Before scope_spans (OTLP 0.19) the same message was instrumentation_library_spans.
        instrumentationLibrarySpans: repeated('ScopeSpans', 1000),
      },
    },
    ExportTraceServiceRequest: { fields: { resourceSpans: repeated('ResourceSpans', 1) } },
    ExportTracePartialSuccess: { fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } } },
    ExportTraceServiceResponse: { fields: { partialSuccess: { type: 'ExportTracePartialSuccess', id: 1 } } },
    // google.rpc.Status: how OTLP answers a request it refuses.
    RpcStatus: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } },
  },
});

const Request = root.lookupType('ExportTraceServiceRequest');
const Response = root.lookupType('ExportTraceServiceResponse');
const RpcStatus = root.lookupType('RpcStatus');

/** A malformed Protobuf body: answered 400, as a JSON syntax error is. */
export class ProtobufFormatError extends Error {}

/**
 * The export request as its JSON mapping would carry it, for decodeSpans: ids as
 * base64 (which it reads), 64-bit numbers as decimal strings, enums as numbers.
 */
export function readExportRequest(body: Uint8Array): unknown {
  let message: protobuf.Message;
  try {
    message = Request.decode(body);
  } catch (error) {
    throw new ProtobufFormatError(`not an OTLP ExportTraceServiceRequest in Protobuf: ${(error as Error).message}`);
  }
  const request = Request.toObject(message, { longs: String, bytes: String, enums: Number, arrays: true }) as { resourceSpans: Array<Record<string, unknown>> };
  for (const rs of request.resourceSpans) {
    if (Array.isArray(rs.instrumentationLibrarySpans) && rs.instrumentationLibrarySpans.length > 0 && !(Array.isArray(rs.scopeSpans) && rs.scopeSpans.length > 0)) {
      rs.scopeSpans = rs.instrumentationLibrarySpans;
    }
  }
  return request;
}

/** The answer to an export: empty on full success, else how many spans were rejected and why. */
export function writeExportResponse(rejected: number, errorMessage: string): Uint8Array {
  const fields = rejected > 0 ? { partialSuccess: { rejectedSpans: rejected, errorMessage } } : {};
  return Response.encode(Response.create(fields)).finish();
}

/** gRPC's status codes, which OTLP answers with over gRPC and in google.rpc.Status over HTTP. */
export const GrpcStatus = { OK: 0, UNKNOWN: 2, INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 } as const;

/** google.rpc.Status with a gRPC code (GrpcStatus). */
export function writeRpcStatus(code: number, message: string): Uint8Array {
  return RpcStatus.encode(RpcStatus.create({ code, message })).finish();
}
