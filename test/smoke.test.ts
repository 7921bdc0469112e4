import { describe, expect, it } from "vitest";
import { parseEndpoint } from "../src/csi/server.ts";

describe("parseEndpoint", () => {
  it("accepts unix and tcp forms", () => {
    expect(parseEndpoint("unix:///tmp/csi.sock")).toEqual({
      bindAddress: "unix:///tmp/csi.sock",
      socketPath: "/tmp/csi.sock",
    });
    expect(parseEndpoint("tcp://127.0.0.1:10000")).toEqual({ bindAddress: "127.0.0.1:10000" });
    expect(() => parseEndpoint("http://x")).toThrow(/expected unix/);
  });
});
