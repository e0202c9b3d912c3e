import sys, threading, time, sigma_auth, collections
URL=sys.argv[1]; N=int(sys.argv[2]); TO=float(sys.argv[3])
res=[]
def go(i):
    c = sigma_auth.Client(sigma_auth.Config(URL, "demo-client", sigma_auth.Secret("demo-secret"), timeout=TO))
    t=time.monotonic()
    try: c.token(); res.append((i,"ok",round(time.monotonic()-t,2)))
    except Exception as e: res.append((i,type(e).__name__, str(e)[:100], round(time.monotonic()-t,2)))
ts=[threading.Thread(target=go,args=(i,)) for i in range(N)]
t0=time.monotonic()
for t in ts: t.start()
for t in ts: t.join(TO+20)
print("alive threads:", sum(t.is_alive() for t in ts), "elapsed", round(time.monotonic()-t0,2))
c=collections.Counter((r[1], r[2][:60]) for r in res); 
for k,v in c.items(): print(v,k)
print("max elapsed", max(r[-1] for r in res))
