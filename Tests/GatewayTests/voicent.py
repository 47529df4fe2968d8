# The reference client of the simple call interface (simple-gateway-http-api.txt), ported
# line for line to Python 3: urllib.urlencode -> urllib.parse.urlencode, urllib.urlopen ->
# urllib.request.urlopen, and the body decoded to text. Nothing else is changed.
import urllib.parse
import urllib.request
import time
import sys
import json

class Voicent:
    def __init__(self, host="localhost", port="8155"):
        self.host_ = host
        self.port_ = port

    def callText(self, phoneno, text, selfdelete):
        urlstr = "/ocall/callreqHandler.jsp"
        param = {'info' : 'simple text call',
                 'phoneno' : phoneno,
                 'firstocc' : 10,
                 'txt' : text,
                 'selfdelete' : selfdelete}
        rcstr = self.postToGateway(urlstr, param)
        return self.getReqId(rcstr)

    def callAudio(self, phoneno, filename, selfdelete):
        urlstr = "/ocall/callreqHandler.jsp"
        param = {'info' : 'simple audio call',
                 'phoneno' : phoneno,
                 'firstocc' : 10,
                 'audiofile' : filename,
                 'selfdelete' : selfdelete}
        rcstr = self.postToGateway(urlstr, param)
        return self.getReqId(rcstr)

    def callStatus(self, reqId):
        urlstr = "/ocall/callstatusHandler.jsp"
        param = {'reqid' : reqId}
        rcstr = self.postToGateway(urlstr, param)
        if (rcstr.find("^made^") != -1):
            return "Call Made"
        if (rcstr.find("^failed^") != -1):
            return "Call Failed"
        if (rcstr.find("^retry^") != -1):
            return "Call Will Retry"
        return ""

    def callRemove(self, reqId):
        urlstr = "/ocall/callremoveHandler.jsp"
        param = {'reqid' : reqId}
        rcstr = self.postToGateway(urlstr, param)

    def callTillConfirm(self, vcastexe, vocfile, wavfile, ccode):
        urlstr = "/ocall/callreqHandler.jsp"
        cmdline = "\""
        cmdline += vocfile
        cmdline += "\""
        cmdline += " -startnow"
        cmdline += " -confirmcode "
        cmdline += ccode
        cmdline += " -wavfile "
        cmdline += "\""
        cmdline += wavfile
        cmdline += "\""
        param = {'info' : 'Simple Call till Confirm',
                 'phoneno' : '1111111',
                 'firstocc' : 10,
                 'selfdelete' : 0,
                 'startexec' : vcastexe,
                 'cmdline' : cmdline}
        self.postToGateway(urlstr, param)

    def postToGateway(self, urlstr, poststr):
        params = urllib.parse.urlencode(poststr).encode()
        url = "http://" + self.host_ + ":" + self.port_ + urlstr
        f = urllib.request.urlopen(url, params)
        return f.read().decode()

    def getReqId(self, rcstr):
        index1 = rcstr.find("[ReqId=")
        if (index1 == -1):
            return ""
        index1 += 7
        index2 = rcstr.find("]", index1)
        if (index2 == -1):
            return ""
        return rcstr[index1:index2]

# The test driver (not part of the reference): runs one method and prints what it
# returned as JSON, so the Swift tests can read it.
#   python3 voicent.py PORT METHOD ARGS...
#   python3 voicent.py PORT poll REQID SECONDS   prints every status until it is not ""
if __name__ == "__main__":
    v = Voicent("127.0.0.1", sys.argv[1])
    method, args = sys.argv[2], sys.argv[3:]
    if method == "poll":
        statuses, deadline = [], time.time() + float(args[1])
        while time.time() < deadline:
            status = v.callStatus(args[0])
            statuses.append(status)
            if status not in ("", "Call Will Retry"):
                break
            time.sleep(0.05)
        print(json.dumps(statuses))
    elif method == "callTextAndStatus":
        reqid = v.callText(args[0], args[1], args[2])
        print(json.dumps([reqid, v.callStatus(reqid)]))
    else:
        print(json.dumps(getattr(v, method)(*args)))
