package main

// The static binary (a distroless image has no /usr/share/zoneinfo) carries
// the time zone database, so WHISPER_TIME_ZONE and updatePracticeSettings
// resolve every IANA name.
import _ "time/tzdata"
