# Independent implementation of docs/snapshot.md's state hash and canonical full encoding.
import hashlib, struct, zlib
P=65536
def crc32c(b):
    crc=0xffffffff
    for x in b:
        crc^=x
        for _ in range(8):
            crc=(crc>>1)^(0x82F63B78 if crc&1 else 0)
    return crc^0xffffffff
mod=hashlib.sha256(b"module").digest()
p1=bytes(i%251 for i in range(P))
pages=[None,p1,None]
glob=b"\x7f"+struct.pack("<I",7)+b"\x7e"+struct.pack("<Q",2**64-1)+b"\x7d"+struct.pack("<I",0x7fc00000)+b"\x7c"+struct.pack("<Q",0x3ff0000000000000)+b"\x7b"+struct.pack("<QQ",1,2)
zero=hashlib.sha256(bytes(P)).digest()
ph=[hashlib.sha256(p).digest() if p else zero for p in pages]
fr,host=b"frames",b"host"
def state(fuel,ph):
    return hashlib.sha256(b"crowdrun/state/v1"+mod+struct.pack("<QI",fuel,len(ph))+b"".join(ph)+struct.pack("<I",5)+glob+struct.pack("<I",len(fr))+fr+struct.pack("<I",len(host))+host).digest()
st=state(12345,ph)
print("state", st.hex())
hdr=b"CRWDSNAP"+struct.pack("<HBBIQII",1,1,0,3,12345,5,1)+mod+st+bytes(32)
assert len(hdr)==128
body=hdr+glob+bytes([0])+struct.pack("<II",6,6)+fr+bytes([0])+struct.pack("<II",4,4)+host+struct.pack("<IBI",1,0,P)+p1
c=crc32c(body)
f=body+struct.pack("<I",c)
print("len",len(f),"sha",hashlib.sha256(f).hexdigest())
p2=bytes([0xab])*P
ph2=[zero,ph[1],hashlib.sha256(p2).digest(),zero]
st2=state(20000,ph2)
print("delta state",st2.hex())
hdr=b"CRWDSNAP"+struct.pack("<HBBIQII",1,2,0,4,20000,5,1)+mod+st2+st
body=hdr+glob+bytes([0])+struct.pack("<II",6,6)+fr+bytes([0])+struct.pack("<II",4,4)+host+struct.pack("<IBI",2,0,P)+p2
f=body+struct.pack("<I",crc32c(body))
print("delta len",len(f),"sha",hashlib.sha256(f).hexdigest())
