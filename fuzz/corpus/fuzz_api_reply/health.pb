Â<
tb-notification"
notificationrequests
 (*0.1.0