// Robots take JPG and PNG only; the bytes decide, never a name or a declared type.
export function isJpegOrPng(data: Buffer): boolean {
  const png =
    data.length > 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const jpeg = data.length > 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
  return png || jpeg;
}
